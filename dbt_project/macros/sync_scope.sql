{#-
  The sync scope: which (workspace, local report date) rows a build replaces.

  vars (all optional), for one workspace:
    workspace_id            the workspace a sync touched
    date_from, date_to      the local report dates it touched, inclusive (YYYY-MM-DD)
    full_refresh_workspace  true: every date of `workspace_id` (dates are then ignored)
  or, for several at once (what a plan DAG's single build of its whole run passes):
    workspaces              a list of objects with those same keys, one per workspace

  The same keys may come as JSON in the environment variable COMETLY_DBT_SCOPE (what
  cometly_elt.dbt passes); its keys win over the vars. Why: dbt throws away its saved
  parse and parses the whole project again whenever --vars change, i.e. on every sync;
  an environment variable read only while executing (never while parsing, so dbt does
  not track it) lets it reuse the parse. Nothing at parse time depends on the scope.

  sync_scope() returns the scope as a list of {workspace_id, date_from, date_to}; an
  empty list is every workspace and date (a normal `dbt build`). Dates without a
  workspace: those dates for every workspace.
-#}

{% macro sync_scope() %}
    {%- set passed = fromjson(env_var('COMETLY_DBT_SCOPE', '{}')) if execute else {} -%}
    {%- set listed = passed.get('workspaces', var('workspaces', none)) -%}
    {%- if listed is none -%}
        {%- set one = {} -%}
        {%- for key in ['workspace_id', 'date_from', 'date_to', 'full_refresh_workspace'] -%}
            {%- do one.update({key: passed.get(key, var(key, none))}) -%}
        {%- endfor -%}
        {%- set listed = [one] if (one.values() | select | list) else [] -%}
    {%- endif -%}
    {%- set entries = [] -%}
    {%- for item in listed -%}
        {%- do entries.append(_scope_entry(item)) -%}
    {%- endfor -%}
    {{ return(entries) }}
{% endmacro %}


{#- One workspace's part of the scope, checked. -#}
{% macro _scope_entry(item) %}
    {%- set workspace_id = item.get('workspace_id') -%}
    {%- set date_from = item.get('date_from') -%}
    {%- set date_to = item.get('date_to') -%}
    {%- if workspace_id is not none and (workspace_id | string | trim) == '' -%}
        {{ exceptions.raise_compiler_error("var workspace_id is empty: give a workspace id or leave it out") }}
    {%- endif -%}
    {%- if item.get('full_refresh_workspace') -%}
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
    (either may be none: that column is not filtered): one condition per workspace,
    or'ed. -#}
{% macro sync_scope_filter(workspace_column='workspace_id', date_column='report_date') %}
    {%- set alternatives = [] -%}
    {%- for entry in sync_scope() -%}
        {%- set conditions = [] -%}
        {%- if workspace_column and entry.workspace_id is not none -%}
            {%- do conditions.append(workspace_column ~ ' = ' ~ sql_string(entry.workspace_id)) -%}
        {%- endif -%}
        {%- if date_column and entry.date_from is not none -%}
            {%- do conditions.append(date_column ~ " between date '" ~ entry.date_from ~ "' and date '" ~ entry.date_to ~ "'") -%}
        {%- endif -%}
        {%- if not conditions -%}
            {{ return('true') }}
        {%- endif -%}
        {%- do alternatives.append(conditions | join(' and ')) -%}
    {%- endfor -%}
    {{ return(_any_of(alternatives)) }}
{% endmacro %}


{#- Conversions of the scope's workspaces whose local report date may fall in its dates,
    in whatever timezone: a constant UTC range per workspace, so that the index
    raw_cometly.events (workspace_id, settings_version, event_time_utc) serves it (a range
    computed from each workspace's timezone is a join filter the planner applies only after
    reading all the workspace's events). Local time is UTC-12:00 to UTC+14:00, so local
    date D lies within UTC [D 00:00 - 14 h, D+1 00:00 + 12 h). The exact rule, the local
    date in the workspace's timezone, is applied after it (sync_scope_filter on report_date). -#}
{% macro sync_scope_event_filter(workspace_column, time_column) %}
    {%- set alternatives = [] -%}
    {%- for entry in sync_scope() -%}
        {%- set conditions = [] -%}
        {%- if entry.workspace_id is not none -%}
            {%- do conditions.append(workspace_column ~ ' = ' ~ sql_string(entry.workspace_id)) -%}
        {%- endif -%}
        {%- if entry.date_from is not none -%}
            {%- set day_after = modules.datetime.date.fromisoformat(entry.date_to) + modules.datetime.timedelta(days=1) -%}
            {%- do conditions.append(time_column ~ " >= timestamptz '" ~ entry.date_from ~ " 00:00:00+00' - interval '14 hours'"
                                     ~ " and " ~ time_column ~ " < timestamptz '" ~ day_after.isoformat() ~ " 00:00:00+00' + interval '12 hours'") -%}
        {%- endif -%}
        {%- if not conditions -%}
            {{ return('true') }}
        {%- endif -%}
        {%- do alternatives.append(conditions | join(' and ')) -%}
    {%- endfor -%}
    {{ return(_any_of(alternatives)) }}
{% endmacro %}


{% macro _any_of(alternatives) %}
    {%- if not alternatives -%}
        {{ return('true') }}
    {%- elif alternatives | length == 1 -%}
        {{ return(alternatives[0]) }}
    {%- endif -%}
    {{ return('((' ~ alternatives | join(') or (') ~ '))') }}
{% endmacro %}


{#- Taken first in an incremental model's transaction (pre-hook), before it reads its
    inputs: two builds touching the same workspace run one after the other, so neither
    deletes rows the other is inserting; builds of different workspaces run side by side
    (each workspace's lock taken in name order, so two builds never wait on each other in
    a cycle); a build of every workspace (or the first build, or --full-refresh) waits for,
    and blocks, all others. -#}
{% macro sync_scope_lock() %}
    {%- set workspaces = sync_scope() | map(attribute='workspace_id') | list -%}
    {%- set table_key = "hashtext(" ~ sql_string(this | string) ~ ")" -%}
    {%- if not workspaces or none in workspaces or not is_incremental() -%}
        select pg_advisory_xact_lock({{ table_key }}::bigint)
    {%- else -%}
        select pg_advisory_xact_lock_shared({{ table_key }}::bigint);
        {%- for workspace_id in workspaces | unique | sort %}
        select pg_advisory_xact_lock({{ table_key }}, hashtext({{ sql_string(workspace_id) }}));
        {%- endfor %}
    {%- endif -%}
{% endmacro %}
