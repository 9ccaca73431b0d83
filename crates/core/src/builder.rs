//! `AimDbBuilder`: configure records, validate the graph, build a database.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::accept::{Progress, Signal};
use crate::db::{AimDb, DbInner, Pending};
use crate::error::BuildError;
use crate::graph::{self, GraphError, GraphPlan, LinkCheck};
use crate::key::RecordKey;
use crate::lifecycle::{ShutdownSignal, TaskTracker};
use crate::link::{url_scheme, Connector, InboundLink, OutboundLink};
use crate::record::{AnyRecordSpec, RecordInfo, RecordRegistrar, StartError};
use crate::runtime::{Runtime, RuntimeContext};

/// Collects records and connectors; [`AimDbBuilder::build`] validates them as one graph.
pub struct AimDbBuilder<R: Runtime> {
    runtime: Option<R>,
    specs: Vec<Box<dyn AnyRecordSpec<R>>>,
    connectors: Vec<Arc<dyn Connector<R>>>,
}

impl<R: Runtime> Default for AimDbBuilder<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Runtime> AimDbBuilder<R> {
    /// An empty builder.
    pub fn new() -> Self {
        Self {
            runtime: None,
            specs: Vec::new(),
            connectors: Vec::new(),
        }
    }

    /// Sets the runtime the graph runs on.
    pub fn runtime(mut self, runtime: R) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Adds record `key` carrying values of type `T`; `f` configures its buffer, writer, taps and
    /// links. Several records may share one type. Mistakes are reported by `build`, all at once.
    pub fn configure<T>(
        &mut self,
        key: impl RecordKey,
        f: impl FnOnce(&mut RecordRegistrar<T, R>),
    ) -> &mut Self
    where
        T: Clone + Send + Sync + 'static,
    {
        let mut reg = RecordRegistrar::new(key.as_key());
        f(&mut reg);
        self.specs.push(Box::new(reg));
        self
    }

    /// Registers the connector serving one URL scheme of links.
    pub fn connector(&mut self, connector: impl Connector<R>) -> &mut Self {
        self.connectors.push(Arc::new(connector));
        self
    }

    /// The records configured so far.
    pub fn records(&self) -> Vec<RecordInfo> {
        self.specs.iter().map(|s| s.info()).collect()
    }

    /// Validates the graph without building it.
    pub fn validate(&self) -> Result<GraphPlan, GraphError> {
        graph::validate(&self.records(), &|url| self.check_link(url))
    }

    fn connector_for(&self, url: &str) -> Option<&Arc<dyn Connector<R>>> {
        let scheme = url_scheme(url)?;
        self.connectors.iter().find(|c| c.scheme() == scheme)
    }

    fn check_link(&self, url: &str) -> LinkCheck {
        match self.connector_for(url).map(|c| c.check_url(url)) {
            None => LinkCheck::NoConnector,
            Some(Ok(())) => LinkCheck::Served,
            Some(Err(reason)) => LinkCheck::Rejected(reason.to_string()),
        }
    }

    /// Validates the graph and creates every buffer and component. Nothing runs until
    /// [`AimDb::run`]; readers created in between miss nothing.
    pub fn build(self) -> Result<AimDb<R>, BuildError> {
        let runtime = self.runtime.clone().ok_or(BuildError::NoRuntime)?;
        let infos = self.records();
        let plan = graph::validate(&infos, &|url| self.check_link(url))?;
        let progress: Arc<dyn Signal> = Arc::new(Progress::<R::Mutex>::new());
        let records: Vec<_> = self.specs.iter().map(|s| s.create(&progress)).collect();
        let index: BTreeMap<Arc<str>, usize> = infos
            .iter()
            .enumerate()
            .map(|(i, info)| (info.key.clone(), i))
            .collect();
        let inner = Arc::new(DbInner {
            runtime: runtime.clone(),
            records,
            infos,
            index,
            plan,
            shutdown: ShutdownSignal::new(),
            tracker: TaskTracker::new(),
        });

        let mut pending = Pending::default();
        let mut outbound: Vec<OutboundLink> = Vec::new();
        let mut inbound: Vec<InboundLink> = Vec::new();
        for (i, spec) in self.specs.into_iter().enumerate() {
            let started = spec
                .start(&*inner.records[i], &*inner, &runtime, &inner.shutdown)
                .map_err(BuildError::Start)?;
            pending.sources.extend(started.sources);
            pending.tasks.extend(started.tasks);
            pending.guards.extend(started.guard);
            outbound.extend(started.outbound);
            inbound.extend(started.inbound);
        }
        for connector in &self.connectors {
            let scheme = connector.scheme();
            let (out, rest): (Vec<_>, Vec<_>) = outbound
                .into_iter()
                .partition(|l| url_scheme(&l.url) == Some(scheme));
            outbound = rest;
            let (inb, rest): (Vec<_>, Vec<_>) = inbound
                .into_iter()
                .partition(|l| url_scheme(&l.url) == Some(scheme));
            inbound = rest;
            let ctx = RuntimeContext::new(runtime.clone(), scheme.into(), inner.shutdown.clone());
            let tasks = connector
                .start(ctx, out, inb)
                .map_err(|source| StartError::Connector {
                    scheme: scheme.into(),
                    source,
                })?;
            pending.tasks.extend(tasks);
        }
        Ok(AimDb { inner, pending })
    }

    /// Builds and runs the graph until it ends or [`crate::DbHandle::shutdown`] is called.
    pub async fn run(self) -> Result<(), BuildError> {
        self.build()?.run().await
    }
}
