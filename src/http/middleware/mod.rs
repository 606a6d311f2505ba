//! Request pipeline: request ids and logging, security headers, host routing, CSRF, NUL
//! characters refused in addresses, a cap on query strings, HTMX-friendly error rendering, and the API's credential
//! resolution and rate limits.

pub mod body_timeout;
pub mod csrf;
pub mod host_routing;
pub mod htmx_errors;
pub mod nul_bytes;
pub mod query_length;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;
pub mod viewers;
