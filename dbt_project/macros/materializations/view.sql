{#- Views are replaced in place with `create or replace view` instead of dbt's default
    create-temporary, rename, drop-old swap: two builds running at once (two workspaces
    syncing) then never collide on the temporary names, and replacing a staging view never
    drops the marts views built on it (the swap drops the old view with cascade).
    A change that removes, renames or retypes a view's columns cannot be done in place:
    run that model once with --full-refresh, which drops it first. -#}
{% materialization view, adapter='postgres' %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing_relation is not none and (not existing_relation.is_view or should_full_refresh()) -%}
        {{ adapter.drop_relation(existing_relation) }}
    {%- endif -%}

    {% call statement('main') -%}
        {{ get_replace_view_sql(target_relation, sql) }}
    {%- endcall %}

    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
