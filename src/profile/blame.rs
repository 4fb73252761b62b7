//! Which file to blame for an invalid value: every resolved key remembers
//! the file and line that set it.

use super::error::SettingsError;
use crate::model::settings::{Origin, Origins};

pub struct Blame<'o> {
    pub origins: &'o Origins,
}

impl Blame<'_> {
    /// Of several keys that together make a value invalid, the one set by the
    /// most specific file: the file the user most likely just wrote.
    pub fn most_specific(&self, keys: &[&'static str]) -> &'static str {
        keys.iter()
            .copied()
            .rev()
            .max_by_key(|key| self.origins.get(key).map_or(0, |o| o.layer))
            .unwrap_or(keys[0])
    }

    pub fn invalid(&self, key: &'static str, message: String) -> SettingsError {
        SettingsError::Invalid {
            origin: self.origins.get(key).cloned().unwrap_or(Origin {
                file: String::new(),
                line: 0,
                layer: 0,
            }),
            key,
            message,
        }
    }
}
