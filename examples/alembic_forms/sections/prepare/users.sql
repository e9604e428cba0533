-- Objects the users unit's first revision needs, kept in SQL by the project. It runs before that revision while
-- none is applied, so it may run again (after a downgrade to base): it creates what is missing only.
DO $$
BEGIN
    CREATE DOMAIN email_address AS text CHECK (VALUE LIKE '%@%');
EXCEPTION WHEN duplicate_object THEN
    NULL;
END
$$;
