{#- `in_place_view`: a view replaced in place with `create or replace view`, instead of dbt's
    own `view` materialization (create a temporary view, rename, drop the old one). Two builds
    running at once (two workspaces syncing) then never collide on the temporary names, and
    replacing a staging view never drops the marts views built on it (the swap drops the old
    view with cascade). It has a name of its own, set per layer in dbt_project.yml, so that
    dbt's `view` keeps meaning what dbt's documentation says.
    A change that removes, renames or retypes a view's columns cannot be done in place:
    run that model once with --full-refresh, which drops it first. -#}
{% materialization in_place_view, adapter='postgres' %}
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
