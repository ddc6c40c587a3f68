//! CDS Hooks 2.0 wire types and their validation: the service's edge.

pub mod context;
pub mod feedback;
pub mod limits;
pub mod prefetch;
pub mod request;
pub mod response;
