//! Route tables: the non-API surfaces' routes declared once each, as data that both
//! registers them with actix and can be listed (the isolation matrix in
//! `tests/api/isolation_matrix.rs` walks the real tables, so a route added here without an
//! access class, or added elsewhere, is caught).
//!
//! Adding a route is one line in its surface's table:
//! `route!(POST "/dashboard/things/{id}/archive" => things::archive, Access::Staff)`.

use actix_web::http::Method;
use actix_web::{Route, web};

/// Who may call a route; the isolation matrix picks the credentials to try from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; the reason says why (and what protects it instead, if anything).
    Public(&'static str),
    /// A signed-in staff member of the vendor; viewers only on `GET`.
    Staff,
    /// A signed-in staff member, viewers included, on their own account.
    StaffOwnAccount,
    /// An affiliate signed in to this vendor's portal.
    Affiliate,
    /// An affiliate access token of the vendor (iframe embeds; no cookies).
    EmbedToken,
    /// A bearer credential checked like the API's (MCP).
    Bearer,
}

impl Access {
    /// Whether the route answers anyone (nothing for the matrix to refuse).
    pub fn is_public(&self) -> bool {
        matches!(self, Access::Public(_))
    }
}

/// One route: method, path (relative to its table's prefix), access class and handler.
#[derive(Clone)]
pub struct RouteEntry {
    /// The HTTP method.
    pub method: Method,
    /// The path pattern, relative to [`RouteTable::prefix`].
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// How the route is served.
    handler: Handler,
}

/// How an entry is served.
#[derive(Clone, Copy)]
enum Handler {
    /// A handler on a route of the entry's method.
    To(fn(Route) -> Route),
    /// A handler whose requests' bodies may be up to this many bytes.
    Limited(fn(Route) -> Route, usize),
    /// A service mounted by this function (e.g. the Swagger UI), serving the entry's path.
    Mount(fn(&mut web::ServiceConfig)),
    /// Served by another entry's mount or by the app factory; the string says which.
    ServedBy(&'static str),
}

impl std::fmt::Debug for RouteEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({:?})", self.method, self.path, self.access)?;
        if let Handler::ServedBy(by) = self.handler {
            write!(f, ", served by {by}")?;
        }
        Ok(())
    }
}

impl RouteEntry {
    /// An entry; prefer the [`route!`](crate::route) macro.
    pub fn new(
        method: Method,
        path: &'static str,
        access: Access,
        handler: fn(Route) -> Route,
    ) -> Self {
        RouteEntry {
            method,
            path,
            access,
            handler: Handler::To(handler),
        }
    }

    /// Bodies of this route may be up to `limit` bytes (webhooks, MCP).
    pub fn body_limit(mut self, limit: usize) -> Self {
        if let Handler::To(h) = self.handler {
            self.handler = Handler::Limited(h, limit);
        }
        self
    }

    /// An entry served by a mounted service (registered once, by this entry).
    pub fn mount(
        method: Method,
        path: &'static str,
        access: Access,
        mount: fn(&mut web::ServiceConfig),
    ) -> Self {
        RouteEntry {
            method,
            path,
            access,
            handler: Handler::Mount(mount),
        }
    }

    /// An entry listed here but served elsewhere (`by` says where).
    pub fn served_by(method: Method, path: &'static str, access: Access, by: &'static str) -> Self {
        RouteEntry {
            method,
            path,
            access,
            handler: Handler::ServedBy(by),
        }
    }

    /// The actix route of a plain entry (`None` for mounts and entries served elsewhere).
    pub fn route(&self) -> Option<Route> {
        match self.handler {
            Handler::To(h) | Handler::Limited(h, _) => Some(h(web::method(self.method.clone()))),
            Handler::Mount(_) | Handler::ServedBy(_) => None,
        }
    }

    /// Registers this entry on `cfg`.
    fn register(&self, cfg: &mut web::ServiceConfig) {
        match self.handler {
            Handler::To(h) => {
                cfg.route(self.path, h(web::method(self.method.clone())));
            }
            Handler::Limited(h, limit) => {
                cfg.service(
                    web::resource(self.path)
                        .app_data(web::PayloadConfig::new(limit))
                        .route(h(web::method(self.method.clone()))),
                );
            }
            Handler::Mount(mount) => mount(cfg),
            Handler::ServedBy(_) => {}
        }
    }
}

/// The routes of one surface.
#[derive(Debug, Clone)]
pub struct RouteTable {
    /// A name for messages (`dashboard`, `portal`, ...).
    pub name: &'static str,
    /// The scope the paths are relative to (empty for the root).
    pub prefix: &'static str,
    /// The routes, in registration order (literal paths before patterns that match them).
    pub routes: Vec<RouteEntry>,
}

impl RouteTable {
    /// Registers every route on `cfg` (a scope of [`Self::prefix`], or the root).
    pub fn register(&self, cfg: &mut web::ServiceConfig) {
        for entry in &self.routes {
            entry.register(cfg);
        }
    }

    /// Every route with its full path: `(method, prefix + path, access)`.
    pub fn listed(&self) -> Vec<(Method, String, Access)> {
        self.routes
            .iter()
            .map(|e| {
                (
                    e.method.clone(),
                    format!("{}{}", self.prefix, e.path),
                    e.access,
                )
            })
            .collect()
    }
}

/// `route!(GET "/path" => handler, access)`: one [`RouteEntry`].
#[macro_export]
macro_rules! route {
    ($method:ident $path:literal => $handler:path, $access:expr) => {
        $crate::http::route_table::RouteEntry::new(
            ::actix_web::http::Method::$method,
            $path,
            $access,
            |r| r.to($handler),
        )
    };
}

/// Every non-API route table of the application: dashboard, portal, embed, MCP, tracking
/// and the public pages. The API's routes are listed by its OpenAPI document.
pub fn all() -> Vec<RouteTable> {
    vec![
        crate::http::public_table(),
        crate::http::tracking::table(),
        crate::http::dashboard::table(),
        crate::http::portal::table(),
        crate::http::embed::table(),
        crate::http::mcp::table(),
    ]
}
