//! Request pipeline: request ids and logging, security headers, host routing, CSRF, NUL
//! characters refused in addresses, and HTMX-friendly error rendering.

pub mod csrf;
pub mod host_routing;
pub mod htmx_errors;
pub mod nul_bytes;
pub mod request_id;
pub mod security_headers;
