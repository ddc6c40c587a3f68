//! One hook, end to end, without HTTP: request -> orders -> data -> facts -> rules -> cards.
//!
//! The HTTP handler, the `demo` and `check` commands all call this.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::fhir::client::FhirClient;
use crate::gather::FhirAllowlist;
use crate::hooks::limits::RequestLimits;
use crate::hooks::response::{CDS_HOOKS_VERSION, Discovery, RULES_VERSION_EXTENSION, ServiceDescriptor};
use crate::profile::{Catalog, Profile, Service};
use crate::render::QuietMatches;

mod hook;

pub use hook::{CardRecord, ChartRead, HookOutcome, HookResult, chart_resources, fetch_budget, run_hook};

/// The services this instance offers, by id, with their profile.
#[derive(Debug, Clone)]
pub struct Registry {
    pub catalog: Arc<Catalog>,
    services: BTreeMap<String, (usize, Service)>,
    /// Built once: discovery never changes while the service runs.
    discovery: Arc<Discovery>,
}

impl Registry {
    /// Offer the services of the named profiles. Unknown names are an error.
    pub fn new(catalog: Arc<Catalog>, profiles: &[String]) -> Result<Self, String> {
        let mut services = BTreeMap::new();
        for name in profiles {
            let index = catalog
                .profiles
                .iter()
                .position(|p| &p.id == name)
                .ok_or_else(|| format!("profile `{name}` is not in {}", catalog.dir.display()))?;
            for s in &catalog.profiles[index].services {
                services.insert(s.id.clone(), (index, s.clone()));
            }
        }
        let discovery = Arc::new(Discovery {
            services: services
                .values()
                .map(|(i, s)| ServiceDescriptor {
                    hook: s.hook.clone(),
                    id: s.id.clone(),
                    title: s.title.clone(),
                    description: s.description.clone(),
                    prefetch: s
                        .prefetch
                        .iter()
                        .map(|(k, t)| (k.clone(), t.as_str().to_string()))
                        .collect(),
                    usage_requirements: s.usage_requirements.clone(),
                    hook_version: "1.0",
                    version: CDS_HOOKS_VERSION,
                    extension: serde_json::json!({
                        RULES_VERSION_EXTENSION: catalog.profiles[*i].rules_version,
                    }),
                })
                .collect(),
        });
        Ok(Registry {
            catalog,
            services,
            discovery,
        })
    }

    pub fn get(&self, id: &str) -> Option<(&Profile, &Service)> {
        self.services.get(id).map(|(i, s)| (&self.catalog.profiles[*i], s))
    }

    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }
}

/// Everything a hook needs from the running service, built once from settings: the
/// service (`serve`), the `demo`, `check` and the preview page all run hooks through it.
pub struct Engine {
    pub registry: Registry,
    pub fhir: FhirClient,
    pub allowlist: FhirAllowlist,
    pub deadline: Duration,
    pub limits: RequestLimits,
    pub quiet_matches: QuietMatches,
}

impl Engine {
    /// The profiles `settings` names, a FHIR client bounded as settings say (counted in
    /// `metrics` when given), and the FHIR servers this use of the engine may call.
    pub fn build(
        settings: &crate::config::Settings,
        allowlist: FhirAllowlist,
        deadline: Duration,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> Result<Engine, String> {
        let catalog = crate::startup::load_catalog(settings).map_err(|e| e.to_string())?;
        let registry = Registry::new(catalog, &settings.profiles)?;
        let mut fhir = FhirClient::new(settings.fhir_max_response_bytes, settings.fhir_max_pages)
            .map_err(|e| e.to_string())?
            .with_resource_cap(settings.limits.max_prefetch_resources);
        if let Some(m) = metrics {
            fhir = fhir.with_metrics(m);
        }
        Ok(Engine {
            registry,
            fhir,
            allowlist,
            deadline,
            limits: settings.limits,
            quiet_matches: settings.quiet_matches,
        })
    }

    pub fn context(&self) -> EngineContext<'_> {
        self.context_with(&self.allowlist)
    }

    /// The same engine with another FHIR allowlist (the preview allows none).
    pub fn context_with<'a>(&'a self, allowlist: &'a FhirAllowlist) -> EngineContext<'a> {
        EngineContext {
            registry: &self.registry,
            fhir: &self.fhir,
            allowlist,
            deadline: self.deadline,
            limits: self.limits,
            quiet_matches: self.quiet_matches,
        }
    }

    /// The first order-sign service offered, with its profile.
    pub fn order_sign_service(&self) -> Option<(&Profile, &Service)> {
        self.registry
            .discovery()
            .services
            .iter()
            .find(|s| s.hook == "order-sign")
            .and_then(|s| self.registry.get(&s.id))
    }
}

/// What the engine needs from the running service.
pub struct EngineContext<'a> {
    pub registry: &'a Registry,
    pub fhir: &'a FhirClient,
    pub allowlist: &'a FhirAllowlist,
    pub deadline: Duration,
    pub limits: RequestLimits,
    pub quiet_matches: QuietMatches,
}
