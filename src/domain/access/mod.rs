//! How affiliates get in: portal sign-in, affiliate access and embed tokens, personal tokens, signed portal links, and what they read about themselves.

pub mod affiliate_tokens;
pub mod credentials;
pub mod mcp_sessions;
pub mod personal_tokens;
pub mod portal_access;
pub mod portal_login;
pub mod self_service;
