//! What `show` prints: the resolved settings of a profile, the values
//! derived from them, and where each setting came from.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::derived::Derived;
use crate::model::settings::Settings;
use crate::profile::Profile;

#[derive(Serialize)]
pub struct Explanation<'a> {
    profile: &'a str,
    settings: &'a Settings,
    derived: &'a Derived,
    /// `key: file:line` for every resolved setting.
    sources: BTreeMap<&'static str, String>,
}

pub fn explain(profile: &Profile) -> Explanation<'_> {
    Explanation {
        profile: &profile.name,
        settings: &profile.settings,
        derived: &profile.derived,
        sources: profile
            .origins
            .iter()
            .map(|(key, origin)| (*key, origin.to_string()))
            .collect(),
    }
}
