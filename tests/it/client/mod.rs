//! Our TiKV client against the stand-in: workloads under faults with every
//! op accounted for, PD endpoints that are dead or die, the region cache's
//! reactions to splits and leader moves, TSO batching, raw calls against a
//! model across many regions, bank transfers in both lock modes, and
//! heartbeats that keep a long transaction alive; pair errors, execution
//! limits and busy hints; PD followers.

mod batch;
mod hints;
mod pd_members;
mod raw;
mod routing;
mod runs;
mod txn;
