//! Reads: history pages (with the long poll that clients use to wait for results) and describe.

use prost::Message;
use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::HistoryEventFilterType,
    history::v1::{History, HistoryEvent},
    workflowservice::v1::{
        DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse,
        GetWorkflowExecutionHistoryRequest, GetWorkflowExecutionHistoryResponse,
        GetWorkflowExecutionHistoryReverseRequest, GetWorkflowExecutionHistoryReverseResponse,
    },
};
use tokio::time::Instant;

use super::{
    ExecutionError, Executions, RunKey, keys, watchers::Progress, workflow_tasks::LONG_POLL,
};
use crate::{
    engine::MutableState,
    store::{Keyspace, StoreError},
};

/// Events per page when the client does not say.
const DEFAULT_PAGE_SIZE: usize = 1000;

impl Executions {
    /// Events `from..=to` of a run, in order.
    pub(super) fn read_events(
        &self,
        run: &RunKey,
        from: i64,
        to: i64,
    ) -> Result<Vec<HistoryEvent>, ExecutionError> {
        let start = keys::event(run, from.max(1));
        let end = keys::event(run, to.saturating_add(1).max(1));
        let rows =
            self.committer
                .store()
                .scan_range(Keyspace::History, &start, Some(&end), usize::MAX)?;
        rows.into_iter()
            .map(|(key, value)| {
                HistoryEvent::decode(value.as_slice())
                    .map_err(|err| StoreError::decode(Keyspace::History, &key, err).into())
            })
            .collect()
    }

    /// A page of history; with `wait_new_event`, waits (up to the long-poll limit) for events
    /// past the page token, or for the close event when filtering on it.
    pub async fn history(
        &self,
        request: &GetWorkflowExecutionHistoryRequest,
    ) -> Result<GetWorkflowExecutionHistoryResponse, ExecutionError> {
        let execution = request.execution.clone().unwrap_or_default();
        let mut run = self.resolve(
            &request.namespace,
            &execution.workflow_id,
            &execution.run_id,
        )?;
        let mut from = 1;
        if !request.next_page_token.is_empty() {
            let (token_run, token_from) = parse_page_token(&request.next_page_token)?;
            run.run_id = token_run;
            from = token_from;
        }
        let close_only =
            request.history_event_filter_type == HistoryEventFilterType::CloseEvent as i32;
        let mut progress = self.watchers.subscribe(&run, Progress::default());
        let deadline = Instant::now() + LONG_POLL;
        loop {
            let state = self
                .load(&run)?
                .ok_or_else(|| ExecutionError::NotFound(format!("{:?}", run.workflow_id)))?;
            let next_event_id = state.next_event_id();
            let closed = state.is_closed();
            let ready = if close_only {
                closed
            } else {
                next_event_id > from || closed || !request.wait_new_event
            };
            if ready {
                return self.page(&run, from, next_event_id, closed, close_only, request);
            }
            let wait = progress.wait_for(|p| p.closed || (!close_only && p.next_event_id > from));
            match tokio::time::timeout_at(deadline, wait).await {
                Ok(Ok(_)) => continue,
                Ok(Err(_)) | Err(_) => {
                    // Nothing new in time: an empty page with a token makes the client ask again.
                    return Ok(GetWorkflowExecutionHistoryResponse {
                        history: Some(History::default()),
                        next_page_token: page_token(&run.run_id, from),
                        ..Default::default()
                    });
                }
            }
        }
    }

    fn page(
        &self,
        run: &RunKey,
        from: i64,
        next_event_id: i64,
        closed: bool,
        close_only: bool,
        request: &GetWorkflowExecutionHistoryRequest,
    ) -> Result<GetWorkflowExecutionHistoryResponse, ExecutionError> {
        if close_only {
            let last = self.read_events(run, next_event_id - 1, next_event_id - 1)?;
            return Ok(GetWorkflowExecutionHistoryResponse {
                history: Some(History { events: last }),
                ..Default::default()
            });
        }
        let page_size = match usize::try_from(request.maximum_page_size) {
            Ok(0) | Err(_) => DEFAULT_PAGE_SIZE,
            Ok(n) => n,
        };
        let last = next_event_id - 1;
        let to = last.min(from.saturating_add(page_size as i64 - 1));
        let events = self.read_events(run, from, to)?;
        let more = to < last || (request.wait_new_event && !closed);
        Ok(GetWorkflowExecutionHistoryResponse {
            history: Some(History { events }),
            next_page_token: if more {
                page_token(&run.run_id, to + 1)
            } else {
                Vec::new()
            },
            ..Default::default()
        })
    }

    /// History newest first, in pages (GetWorkflowExecutionHistoryReverse).
    pub fn history_reverse(
        &self,
        request: &GetWorkflowExecutionHistoryReverseRequest,
    ) -> Result<GetWorkflowExecutionHistoryReverseResponse, ExecutionError> {
        let execution = request.execution.clone().unwrap_or_default();
        let mut run = self.resolve(
            &request.namespace,
            &execution.workflow_id,
            &execution.run_id,
        )?;
        let state = self
            .load(&run)?
            .ok_or_else(|| ExecutionError::NotFound(format!("{:?}", run.workflow_id)))?;
        // The token names the newest event of the next page.
        let mut newest = state.next_event_id() - 1;
        if !request.next_page_token.is_empty() {
            let (token_run, token_newest) = parse_page_token(&request.next_page_token)?;
            run.run_id = token_run;
            newest = token_newest.min(newest);
        }
        let page_size = match usize::try_from(request.maximum_page_size) {
            Ok(0) | Err(_) => DEFAULT_PAGE_SIZE,
            Ok(n) => n,
        };
        let oldest = newest.saturating_sub(page_size as i64 - 1).max(1);
        let mut events = self.read_events(&run, oldest, newest)?;
        events.reverse();
        let next_page_token = if oldest > 1 {
            page_token(&run.run_id, oldest - 1)
        } else {
            Vec::new()
        };
        Ok(GetWorkflowExecutionHistoryReverseResponse {
            history: Some(History { events }),
            next_page_token,
        })
    }

    /// Describes a run.
    pub fn describe(
        &self,
        request: &DescribeWorkflowExecutionRequest,
    ) -> Result<DescribeWorkflowExecutionResponse, ExecutionError> {
        let (_, state) = self.load_named(&request.namespace, request.execution.as_ref())?;
        Ok(state.describe())
    }

    /// The run a request names (its current run when the run id is empty) and its state.
    pub(super) fn load_named(
        &self,
        namespace: &str,
        execution: Option<&WorkflowExecution>,
    ) -> Result<(RunKey, MutableState), ExecutionError> {
        let execution = execution.cloned().unwrap_or_default();
        let run = self.resolve(namespace, &execution.workflow_id, &execution.run_id)?;
        let state = self
            .load(&run)?
            .ok_or_else(|| ExecutionError::NotFound(format!("{:?}", run.workflow_id)))?;
        Ok((run, state))
    }
}

fn page_token(run_id: &str, from: i64) -> Vec<u8> {
    format!("{run_id}/{from}").into_bytes()
}

fn parse_page_token(token: &[u8]) -> Result<(String, i64), ExecutionError> {
    let invalid =
        || ExecutionError::InvalidArgument("next_page_token is not one this server issued".into());
    let text = std::str::from_utf8(token).map_err(|_| invalid())?;
    let (run, from) = text.rsplit_once('/').ok_or_else(invalid)?;
    let from: i64 = from.parse().map_err(|_| invalid())?;
    if run.is_empty() || from < 1 {
        return Err(invalid());
    }
    Ok((run.to_string(), from))
}
