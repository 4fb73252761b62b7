//! Profiles: the built-in platform and size files, user profile files, and
//! how a profile name turns into resolved settings.

mod blame;
mod catalog;
pub mod deprecated;
mod error;
pub mod identity;
pub mod keys;
pub mod layer;
mod offsite;
mod postgres_limits;
mod resolve;
pub mod shared_bucket;
mod suggest;
mod together;
mod validate;
mod yaml_error;

use std::fmt;

use serde::Serialize;

use crate::model::derived::Derived;
use crate::model::settings::{Origins, Settings};

pub use catalog::Catalog;

pub const PLATFORMS: [&str; 4] = ["dev", "aws", "gcp", "azure"];
pub const SIZES: [&str; 3] = ["small", "medium", "large"];
const DEFAULT_SIZE: &str = "small";

/// The name under which the base's settings are resolved and shown.
pub const BASE_NAME: &str = "base";

/// One profile, resolved: its name, settings, the values derived from them
/// and where each setting came from.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub name: String,
    pub settings: Settings,
    pub derived: Derived,
    #[serde(skip)]
    pub origins: Origins,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
