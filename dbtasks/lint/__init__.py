"""Lock-taking DDL in a revision's offline SQL (squawk), the rules, and the source lines they point at."""
