{#- Schemas are exactly `staging`, `intermediate` and `marts` (the public names analysts query), not dbt's
    default `<target schema>_<custom schema>`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
