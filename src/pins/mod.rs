//! The pins resource: `model` (the spec's types), `service` (operations), `api` (HTTP handlers).

pub mod api;
pub mod model;
pub mod service;
