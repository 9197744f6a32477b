-- Cometly counts its rate limits per Space, per endpoint, per minute. Every
-- process calling one Space (parallel mapped tasks, a backfill beside a
-- scheduled run) spends from the same row here, so that together they stay
-- inside the limit instead of each discovering it through 429s.
create table control.rate_budget (
    workspace_id   text not null,   -- the Cometly Space, through the workspace connected to it
    endpoint       text not null,   -- list_events, get_event, create_export, export_status
    call_limit     integer not null check (call_limit > 0),
    used           integer not null default 0,
    window_ends_at timestamptz not null default '-infinity',
    -- Which window `used` counts, so that a late answer from an old window cannot spend a new one.
    window_number  bigint not null default 0,
    primary key (workspace_id, endpoint)
);
