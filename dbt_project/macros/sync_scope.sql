{#-
  The sync scope: which (workspace, local report date) rows a build replaces.

  vars (all optional):
    workspace_id            the workspace a sync touched
    date_from, date_to      the local report dates it touched, inclusive (YYYY-MM-DD)
    full_refresh_workspace  true: every date of `workspace_id` (dates are then ignored)

  The same keys may come as JSON in the environment variable COMETLY_DBT_SCOPE (what
  cometly_elt.dbt passes); its keys win over the vars. Why: dbt throws away its saved
  parse and parses the whole project again whenever --vars change, i.e. on every sync;
  an environment variable read only while executing (never while parsing, so dbt does
  not track it) lets it reuse the parse. Nothing at parse time depends on the scope.

  No vars: every workspace and date (a normal `dbt build`). Dates without a workspace:
  those dates for every workspace.
-#}

{% macro sync_scope() %}
    {%- set passed = fromjson(env_var('COMETLY_DBT_SCOPE', '{}')) if execute else {} -%}
    {%- set workspace_id = passed.get('workspace_id', var('workspace_id', none)) -%}
    {%- set date_from = passed.get('date_from', var('date_from', none)) -%}
    {%- set date_to = passed.get('date_to', var('date_to', none)) -%}
    {%- if workspace_id is not none and (workspace_id | string | trim) == '' -%}
        {{ exceptions.raise_compiler_error("var workspace_id is empty: give a workspace id or leave it out") }}
    {%- endif -%}
    {%- if passed.get('full_refresh_workspace', var('full_refresh_workspace', false)) -%}
        {%- if workspace_id is none -%}
            {{ exceptions.raise_compiler_error("var full_refresh_workspace needs var workspace_id: it rebuilds one workspace") }}
        {%- endif -%}
        {%- set date_from = none -%}
        {%- set date_to = none -%}
    {%- endif -%}
    {%- if (date_from is none) != (date_to is none) -%}
        {{ exceptions.raise_compiler_error("vars date_from and date_to go together: give both (inclusive local dates) or neither") }}
    {%- endif -%}
    {%- if date_from is not none -%}
        {%- set date_from = _scope_date('date_from', date_from) -%}
        {%- set date_to = _scope_date('date_to', date_to) -%}
        {%- if date_from > date_to -%}
            {{ exceptions.raise_compiler_error("var date_from (" ~ date_from ~ ") is after date_to (" ~ date_to ~ ")") }}
        {%- endif -%}
    {%- endif -%}
    {{ return({
        'workspace_id': none if workspace_id is none else workspace_id | string,
        'date_from': date_from,
        'date_to': date_to,
    }) }}
{% endmacro %}


{#- A date var as an ISO string; YAML may already have made it a date. -#}
{% macro _scope_date(name, value) %}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a date YYYY-MM-DD, got '" ~ text ~ "'") }}
    {%- endif -%}
    {%- set parsed = modules.datetime.date.fromisoformat(text) -%}
    {{ return(parsed.isoformat()) }}
{% endmacro %}


{% macro sql_string(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}


{#- Rows of a relation inside the scope, by its workspace and report date columns
    (either may be none: that column is not filtered). -#}
{% macro sync_scope_filter(workspace_column='workspace_id', date_column='report_date') %}
    {%- set scope = sync_scope() -%}
    {%- set conditions = [] -%}
    {%- if workspace_column and scope.workspace_id is not none -%}
        {%- do conditions.append(workspace_column ~ ' = ' ~ sql_string(scope.workspace_id)) -%}
    {%- endif -%}
    {%- if date_column and scope.date_from is not none -%}
        {%- do conditions.append(date_column ~ " between date '" ~ scope.date_from ~ "' and date '" ~ scope.date_to ~ "'") -%}
    {%- endif -%}
    {{ return(conditions | join(' and ') if conditions else 'true') }}
{% endmacro %}


{#- Conversions whose local report date may fall in the scope's dates, in whatever
    timezone: a constant UTC range, so that the index raw_cometly.events (workspace_id,
    settings_version, event_time_utc) serves it (a range computed from each workspace's
    timezone is a join filter the planner applies only after reading all the workspace's
    events). Local time is UTC-12:00 to UTC+14:00, so local date D lies within UTC
    [D 00:00 - 14 h, D+1 00:00 + 12 h). The exact rule, the local date in the workspace's
    timezone, is applied after it (sync_scope_filter on report_date). -#}
{% macro sync_scope_event_time_filter(time_column) %}
    {%- set scope = sync_scope() -%}
    {%- if scope.date_from is none -%}
        {{ return('true') }}
    {%- endif -%}
    {%- set day_after = modules.datetime.date.fromisoformat(scope.date_to) + modules.datetime.timedelta(days=1) -%}
    {{ return(time_column ~ " >= timestamptz '" ~ scope.date_from ~ " 00:00:00+00' - interval '14 hours'"
              ~ " and " ~ time_column ~ " < timestamptz '" ~ day_after.isoformat() ~ " 00:00:00+00' + interval '12 hours'") }}
{% endmacro %}


{#- Taken first in an incremental model's transaction (pre-hook), before it reads its
    inputs: two builds of the same workspace run one after the other, so neither deletes
    rows the other is inserting; builds of different workspaces run side by side; a build
    of every workspace (or the first build, or --full-refresh) waits for, and blocks, all
    others. -#}
{% macro sync_scope_lock() %}
    {%- set scope = sync_scope() -%}
    {%- set table_key = "hashtext(" ~ sql_string(this | string) ~ ")" -%}
    {%- if scope.workspace_id is none or not is_incremental() -%}
        select pg_advisory_xact_lock({{ table_key }}::bigint)
    {%- else -%}
        select pg_advisory_xact_lock_shared({{ table_key }}::bigint);
        select pg_advisory_xact_lock({{ table_key }}, hashtext({{ sql_string(scope.workspace_id) }}))
    {%- endif -%}
{% endmacro %}
