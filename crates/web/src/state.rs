//! The state every handler shares: the register and the dashboard's figure cache.

use std::sync::Arc;

use renkou_app::Store;

/// Shared state of the handlers.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The register.
    pub store: Store,
    /// Dashboard figures per (area, period), dropped on every change.
    pub figures: Arc<crate::cache::FigureCache>,
}

impl AppState {
    /// The register changed through this server: cached figures are stale.
    pub fn figures_changed(&self) {
        self.figures.invalidate();
    }
}
