-- MCP sessions are signed and stateless (any instance accepts any session id); the only
-- state is the list of sessions a client ended with DELETE /mcp, kept until the ids would
-- have expired anyway.
CREATE TABLE mcp_ended_sessions (
    id TEXT PRIMARY KEY,
    ended_at BIGINT NOT NULL
);
CREATE INDEX mcp_ended_sessions_ended_at ON mcp_ended_sessions (ended_at);
