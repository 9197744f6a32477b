{#- Incremental strategy `scoped_replace`: delete the target's rows inside the sync scope,
    then insert the freshly built rows, in one transaction. Unlike delete+insert on a
    unique key it also removes rows whose source vanished (a conversion that lost its
    attribution leaves no row to match), and its cost is bounded by the scope, not by
    history. The model must build exactly the rows of the scope. -#}
{% macro get_incremental_scoped_replace_sql(arg_dict) %}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ sync_scope_filter() }};

    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }};
{% endmacro %}
