{#- The model's grain: no two rows share these columns (nulls count as equal, so a null
    key cannot hide a duplicate). Our own because `dbt deps` cannot reach dbt hub here. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns = combination_of_columns | join(', ') -%}
    select {{ columns }}, count(*) as rows_with_this_key
    from {{ model }}
    group by {{ columns }}
    having count(*) > 1
{% endtest %}
