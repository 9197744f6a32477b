{#- A rule every row obeys, written as a boolean SQL expression; failing rows are returned.
    (column_name is passed when the test sits under a column; the expression says it all.) -#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not coalesce({{ expression }}, false)
{% endtest %}
