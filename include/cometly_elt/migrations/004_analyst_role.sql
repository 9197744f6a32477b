-- A read-only role for analysts: the marts and nothing else (not raw_*, control,
-- staging or intermediate). Marts are views: a view reads its inputs with its
-- owner's rights, so select on the views is all an analyst needs.
--
-- The role cannot log in; give it to a login user:
--     create role alice login password '...' in role analyst;   -- or: grant analyst to alice;
--
-- Roles are cluster-wide: the warehouse and the test databases share one, so it
-- is created only when missing.
do $$
begin
    if not exists (select from pg_roles where rolname = 'analyst') then
        create role analyst nologin;
    end if;
end
$$;

-- dbt creates marts on its first run; it exists now so that the grants can be given.
create schema if not exists marts;
grant usage on schema marts to analyst;
grant select on all tables in schema marts to analyst;
-- dbt replaces each view on every run, as the role running migrations (the same
-- one runs dbt): new views in marts are readable by analyst from the start.
alter default privileges in schema marts grant select on tables to analyst;
