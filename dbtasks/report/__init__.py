"""Pictures instead of tables: the graphs `inv db.graph` draws (Mermaid, DOT, SVG) and the self-contained HTML file
`inv db.report` writes (status, fleet matrix, graphs, the plan, verify's results)."""
