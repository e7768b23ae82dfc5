//! The durable outbox of delete notifications (spec 4.5): the SQLite file, the delivery rules,
//! and the client's retry worker.

pub mod delivery;
pub mod store;
pub mod worker;
