//! The reply clock's pure parts (SPEC §5.1): business hours and the time they count.
//!
//! [`clock`] parses `[daemon] hours` and `holidays` and answers the four questions a case asks
//! (when its clock starts, when to remind, when it is due, how many open seconds a reply took),
//! in the configured zone, without I/O. It sits at the bottom of the layers so that `config`
//! can check `hours` where it is written and `store` can run the clock inside a commit; opening,
//! answering and escalating cases is `store::cases`'s job.

pub mod clock;

pub use clock::{Clock, Hours, HoursError};
