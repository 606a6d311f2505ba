//! Views shared by the dashboard and the portal.

pub mod statement;
