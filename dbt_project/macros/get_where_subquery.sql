{#- Data tests see only the rows a scoped build replaced: a sync's tests cost what its
    scope costs, not what the whole history costs. A tested relation with a workspace_id
    column is filtered to the sync's workspace, one with a report_date column to its
    dates; a test's own `where` still applies. Outside a scoped build nothing changes. -#}
{% macro postgres__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if execute and sync_scope_filter() != 'true' -%}
        {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {%- set scope = sync_scope_filter(
            'workspace_id' if 'workspace_id' in columns else none,
            'report_date' if 'report_date' in columns else none) -%}
        {%- if scope != 'true' -%}
            {%- do conditions.append(scope) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {% do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}
