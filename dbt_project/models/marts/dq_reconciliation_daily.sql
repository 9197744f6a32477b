{#- Per workspace, local day and event: what was received, loaded and rejected, and what the
    marts show, with the differences between them and whether they are explained. The
    Cometly-side count is not here (it lives in Cometly): `cometly-elt reconcile` adds it. -#}

with workspaces as (
    select * from {{ ref('stg_control__workspaces') }}
),

-- the marts rebuild a timezone change asked for (report dates still in the old timezone)
rebuild_requests as (
    select workspace_id, marts_rebuild_requested_at
    from {{ source('control', 'workspaces') }}
),

-- The five counts are each read twice (in `days` and joined to it): `not materialized` keeps
-- PostgreSQL from computing them whole once, so that a scoped build's tests, filtered to one
-- workspace and its dates, reach down into them (at 10M events, 28 s a test otherwise).
loaded_conversions as not materialized (
    select
        conversions.workspace_id,
        (conversions.event_time_utc at time zone workspaces.timezone)::date as report_date,
        conversions.event_name,
        count(*)::integer as loaded
    from {{ ref('stg_cometly__conversions') }} as conversions
    join workspaces
        on workspaces.workspace_id = conversions.workspace_id
    group by 1, 2, 3
),

active_batches as (
    select batches.*
    from {{ source('raw_cometly', 'load_batches') }} as batches
    join workspaces
        on workspaces.workspace_id = batches.workspace_id
        and workspaces.active_settings_version = batches.settings_version
),

dated_rejections as (
    -- Rows rejected for a reason other than their time had a valid event_time_utc inside
    -- their batch's window. Read from the JSON text with a pattern: a payload may hold
    -- \u0000, which PostgreSQL's json functions refuse to read.
    select
        active_batches.workspace_id,
        active_batches.settings_version,
        active_batches.batch_id,
        rejected_rows.reason,
        substring(rejected_rows.payload from '"event_time_utc": "([^"]+)"')::timestamptz as event_time_utc,
        coalesce(substring(rejected_rows.payload from '"event_name": "([^"]+)"'), '(none)') as event_name
    from {{ source('raw_cometly', 'rejected_rows') }} as rejected_rows
    join active_batches
        on active_batches.batch_id = rejected_rows.batch_id
    where rejected_rows.reason not like 'unreadable event%'
        and rejected_rows.reason not like 'event_time_utc %'
        and rejected_rows.reason <> 'event has no event_time_utc'
),

current_rejections as (
    -- a later batch over the same time replaced the earlier one's rows: only its
    -- rejections still stand
    select dated_rejections.*
    from dated_rejections
    where not exists (
        select 1 from active_batches as later
        where later.workspace_id = dated_rejections.workspace_id
            and later.settings_version = dated_rejections.settings_version
            and later.batch_id > dated_rejections.batch_id
            and dated_rejections.event_time_utc >= later.window_start_utc
            and dated_rejections.event_time_utc < later.window_end_utc
    )
),

rejection_reasons as (
    select
        current_rejections.workspace_id,
        (current_rejections.event_time_utc at time zone workspaces.timezone)::date as report_date,
        current_rejections.event_name,
        current_rejections.reason,
        count(*)::integer as rejected
    from current_rejections
    join workspaces
        on workspaces.workspace_id = current_rejections.workspace_id
    group by 1, 2, 3, 4
),

rejections as not materialized (
    select
        workspace_id, report_date, event_name,
        sum(rejected)::integer as rejected,
        string_agg(reason || ': ' || rejected, '; ' order by reason) as rejected_reasons
    from rejection_reasons
    group by 1, 2, 3
),

ad_results as not materialized (
    select workspace_id, report_date, event_name, sum(results)::integer as results
    from {{ ref('fct_ad_results_daily') }}
    group by 1, 2, 3
),

unmatched as not materialized (
    select
        workspace_id, report_date, event_name,
        coalesce(sum(results) filter (where reason = 'no_ad_id'), 0)::integer as no_ad_id,
        coalesce(sum(results) filter (where reason <> 'no_ad_id'), 0)::integer as unknown_to_meta
    from {{ ref('dq_unmatched_conversions') }}
    group by 1, 2, 3
),

campaign_results as not materialized (
    select workspace_id, report_date, result_event as event_name, sum(results)::integer as results
    from {{ ref('fct_campaign_results_daily') }}
    where result_event is not null and results > 0
    group by 1, 2, 3
),

days as (
    select workspace_id, report_date, event_name from loaded_conversions
    union
    select workspace_id, report_date, event_name from rejections
    union
    select workspace_id, report_date, event_name from ad_results
    union
    select workspace_id, report_date, event_name from unmatched
    union
    select workspace_id, report_date, event_name from campaign_results
),

counted as (
    select
        days.workspace_id,
        days.report_date,
        days.event_name,
        selected_events.event_name is not null as is_selected,
        coalesce(loaded_conversions.loaded, 0) + coalesce(rejections.rejected, 0) as received,
        coalesce(loaded_conversions.loaded, 0) as loaded,
        coalesce(rejections.rejected, 0) as rejected,
        rejections.rejected_reasons,
        coalesce(ad_results.results, 0) as in_ad_results,
        coalesce(unmatched.unknown_to_meta, 0) as unknown_to_meta,
        coalesce(unmatched.no_ad_id, 0) as no_ad_id,
        coalesce(campaign_results.results, 0) as in_campaign_results,
        coalesce(days.report_date <= final_dates.final_through, false) as is_final,
        rebuild_requests.marts_rebuild_requested_at is not null as is_rebuild_pending
    from days
    left join loaded_conversions using (workspace_id, report_date, event_name)
    left join rejections using (workspace_id, report_date, event_name)
    left join ad_results using (workspace_id, report_date, event_name)
    left join unmatched using (workspace_id, report_date, event_name)
    left join campaign_results using (workspace_id, report_date, event_name)
    left join {{ ref('stg_control__selected_events') }} as selected_events
        on selected_events.workspace_id = days.workspace_id
        and selected_events.event_name = days.event_name
    left join {{ ref('int_workspace_final_dates') }} as final_dates
        on final_dates.workspace_id = days.workspace_id
    left join rebuild_requests
        on rebuild_requests.workspace_id = days.workspace_id
)

select
    *,
    -- loaded conversions of a selected event the marts do not show (negative: shown, not loaded)
    case when is_selected then loaded - in_ad_results - no_ad_id else -in_ad_results end as marts_difference,
    case
        when is_rebuild_pending or not is_final then 0
        else abs(case when is_selected then loaded - in_ad_results - no_ad_id else in_ad_results end)
            + greatest(in_campaign_results - in_ad_results, 0)
    end as unexplained_difference
from counted
