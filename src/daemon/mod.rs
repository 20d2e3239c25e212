//! The daemon (being assembled): `retry` is the retry policy shared by the scheduler and the
//! dispatcher.

pub mod retry;
