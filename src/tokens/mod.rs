//! The tokens resource: `model` (wire types), `service` (issue/list/revoke/check), `api` (HTTP).

pub mod api;
pub mod model;
pub mod service;
