//! ListWorkflowExecutions and CountWorkflowExecutions over the visibility rows.

use temporalio_protos::temporal::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, CountWorkflowExecutionsResponse, ListWorkflowExecutionsRequest,
    ListWorkflowExecutionsResponse,
};

use super::{ExecutionError, Executions};
use crate::{
    engine::EngineError,
    search_attributes::Schema,
    visibility::{self, VisibilityError},
};

impl From<VisibilityError> for ExecutionError {
    fn from(err: VisibilityError) -> Self {
        match err {
            VisibilityError::Store(store) => ExecutionError::Store(store),
            other => ExecutionError::InvalidArgument(other.to_string()),
        }
    }
}

impl Executions {
    /// A page of the namespace's executions matching the request's query, newest first.
    pub fn list(
        &self,
        request: &ListWorkflowExecutionsRequest,
    ) -> Result<ListWorkflowExecutionsResponse, ExecutionError> {
        let query = visibility::prepare(&request.query, &self.schema(&request.namespace)?)?;
        let (executions, next_page_token) = visibility::list(
            self.committer.store().as_ref(),
            &request.namespace,
            &query,
            request.page_size,
            &request.next_page_token,
        )?;
        Ok(ListWorkflowExecutionsResponse {
            executions,
            next_page_token,
        })
    }

    /// How many of the namespace's executions match the request's query.
    pub fn count(
        &self,
        request: &CountWorkflowExecutionsRequest,
    ) -> Result<CountWorkflowExecutionsResponse, ExecutionError> {
        let query = visibility::prepare(&request.query, &self.schema(&request.namespace)?)?;
        let count = visibility::count(self.committer.store().as_ref(), &request.namespace, &query)?;
        Ok(CountWorkflowExecutionsResponse {
            count,
            groups: Vec::new(),
        })
    }

    /// The search attributes of a namespace.
    pub(super) fn schema(&self, namespace: &str) -> Result<Schema, ExecutionError> {
        self.namespaces
            .get(namespace)
            .map(|record| Schema::of(&record))
            .ok_or_else(|| {
                ExecutionError::Engine(EngineError::NotFound(format!(
                    "namespace {namespace:?} not found"
                )))
            })
    }
}
