//! The grid versions the service knows: the ones shipped in `grids/`, plus any `*.toml` file of
//! `RELAIS_GRIDS_DIR` (a file with a shipped version's name replaces it). A new version is a file.

use std::path::Path;

use chrono::NaiveDate;
use relais_domain::grid::{Grid, in_force};

/// Grid files built into the binary.
const SHIPPED: [(&str, &str); 1] = [("grids/2026.toml", include_str!("../../grids/2026.toml"))];

#[derive(Debug, Clone)]
pub struct GridSet {
    grids: Vec<Grid>,
}

impl GridSet {
    /// The shipped grids, and those of `dir` if given.
    pub fn load(dir: Option<&Path>) -> Result<Self, String> {
        let mut set = GridSet { grids: Vec::new() };
        for (name, text) in SHIPPED {
            set.add(Grid::from_toml(text).map_err(|e| format!("{name}: {e}"))?);
        }
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| format!("RELAIS_GRIDS_DIR {}: {e}", dir.display()))?;
            let mut paths: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for path in paths {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                set.add(Grid::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?);
            }
        }
        Ok(set)
    }

    fn add(&mut self, grid: Grid) {
        self.grids.retain(|g| g.version != grid.version);
        self.grids.push(grid);
    }

    pub fn version(&self, version: &str) -> Option<&Grid> {
        self.grids.iter().find(|g| g.version == version)
    }

    /// The version in force on `day`.
    pub fn in_force(&self, day: NaiveDate) -> Option<&Grid> {
        in_force(&self.grids, day)
    }

    pub fn versions(&self) -> Vec<&str> {
        self.grids.iter().map(|g| g.version.as_str()).collect()
    }
}
