{#- Every row's key (several columns, e.g. workspace_id + campaign_id) exists in `to`:
    the builtin relationships test compares one column, which across tenants would let a
    row match another workspace's parent. -#}
{% test composite_relationships(model, to, columns) %}
    with child as (
        select * from {{ model }}
    )

    select child.*
    from child
    where not exists (
        select 1 from {{ to }} as parent
        where {% for column in columns %}parent.{{ column }} = child.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
    )
{% endtest %}
