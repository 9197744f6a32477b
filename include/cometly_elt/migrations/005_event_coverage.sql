-- The coverage ledger: for each workspace, attribution settings version and event, the UTC
-- time ranges whose Cometly rows are loaded completely in raw_cometly.events. Written in the
-- same transaction as the load it describes, so it never claims rows that are not there.
--
-- `covered` is every range loaded; `settled` the part of it that was loaded when it was already
-- older than the re-pull lookback, so Cometly no longer re-attributes it. What a sync fetches is
-- what is wanted minus `settled` (gaps and provisional ranges alike), plus the run's own window.
-- UTC, not local dates: raw rows are keyed by UTC time, so a timezone change leaves it true.
create table control.event_coverage (
    workspace_id     text not null,
    settings_version integer not null,
    event_name       text not null,
    covered          tstzmultirange not null default '{}',
    settled          tstzmultirange not null default '{}',
    updated_at       timestamptz not null default now(),
    primary key (workspace_id, settings_version, event_name)
);
