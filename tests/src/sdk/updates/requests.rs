//! Raw update RPCs: bad requests get Temporal's statuses and store nothing; on Lockstep,
//! admitted and completed updates survive SIGKILLs of the server.

use super::*;
use crate::DevServer;

/// Bad update requests get the status Temporal gives them and store nothing: an unknown
/// workflow, another chain's `first_execution_run_id` and an unknown update id (polling) are
/// NotFound, an empty update name, no update
/// meta or a multi-operation that is not [Start, Update] InvalidArgument, an update of a
/// completed run NotFound. On Lockstep an empty update id
/// is InvalidArgument too (Temporal makes one up; see docs/decisions.md). The history is the
/// same before and after.
pub async fn update_bad_requests(target: &Target) -> Outcome {
    let setup = UpdateSetup::new(target, "update-bad").await;
    let workflow_id = unique("update-bad");
    let handle = setup.start_idle(10, &workflow_id).await;
    let before = setup.history(&handle).await;
    let mut service = setup.connection.workflow_service();
    let mut no_meta = raw_update(&workflow_id, "x", "add");
    if let Some(request) = no_meta.request.as_mut() {
        request.meta = None;
    }
    let mut other_chain = raw_update(&workflow_id, "x", "add");
    other_chain.first_execution_run_id = uuid::Uuid::new_v4().to_string();
    let mut cases = vec![
        (
            "another first_execution_run_id",
            other_chain,
            Code::NotFound,
        ),
        (
            "unknown workflow",
            raw_update(&unique("nobody"), "x", "add"),
            Code::NotFound,
        ),
        (
            "empty name",
            raw_update(&workflow_id, "x", ""),
            Code::InvalidArgument,
        ),
        ("no meta", no_meta, Code::InvalidArgument),
    ];
    if matches!(target, Target::Lockstep { .. }) {
        cases.push((
            "empty update id",
            raw_update(&workflow_id, "", "add"),
            Code::InvalidArgument,
        ));
    }
    for (what, request, code) in cases {
        let status = setup
            .wait(
                what,
                service.update_workflow_execution(tonic::Request::new(request)),
            )
            .await
            .expect_err(what);
        assert_eq!(status.code(), code, "{what}: {status:?}");
        assert!(!status.message().is_empty(), "{what}: a message");
    }
    let poll = PollWorkflowExecutionUpdateRequest {
        namespace: NAMESPACE.into(),
        update_ref: Some(UpdateRef {
            workflow_execution: Some(WorkflowExecution {
                workflow_id: workflow_id.clone(),
                run_id: String::new(),
            }),
            update_id: "never-sent".into(),
        }),
        ..Default::default()
    };
    let status = setup
        .wait(
            "poll unknown update",
            service.poll_workflow_execution_update(tonic::Request::new(poll)),
        )
        .await
        .expect_err("unknown update");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let only_update = ExecuteMultiOperationRequest {
        namespace: NAMESPACE.into(),
        operations: vec![Operation {
            operation: Some(MultiOperation::UpdateWorkflow(raw_update(
                &workflow_id,
                "alone",
                "add",
            ))),
        }],
        resource_id: workflow_id.clone(),
    };
    let status = setup
        .wait(
            "multi-operation without a start",
            service.execute_multi_operation(tonic::Request::new(only_update)),
        )
        .await
        .expect_err("only [Start, Update] is allowed");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let after = setup.history(&handle).await;
    assert_eq!(event_types(&after), event_types(&before), "nothing stored");

    assert_eq!(setup.finish(&handle).await, 10);
    let closed = setup
        .wait(
            "update a completed run",
            service.update_workflow_execution(tonic::Request::new(raw_update(
                &workflow_id,
                "late",
                "add",
            ))),
        )
        .await
        .expect_err("a completed run takes no update");
    assert_eq!(closed.code(), Code::NotFound, "{closed:?}");
    setup.done(&handle).await
}

/// Lockstep only — its admitted updates are durable: an update admitted (the call answered
/// ADMITTED) while no worker runs survives a SIGKILL of the server and is delivered by the
/// restarted one; once COMPLETED it survives another SIGKILL, and polling it or sending the
/// same id again returns the same outcome without running it twice.
pub async fn updates_survive_server_crashes(server: &mut DevServer) {
    let target = Target::Lockstep {
        addr: server.addr(),
        certs_dir: server.certs_dir(),
        principal: STARTER,
    };
    let task_queue = unique("update-crash");
    let workflow_id = unique("update-crash");
    let starter = client(&connect(&target).await);
    let options = WorkflowStartOptions::new(task_queue.clone(), workflow_id.clone()).build();
    let handle = within(
        "start",
        starter.start_workflow(CounterWorkflow::run, 10, options),
    )
    .await
    .unwrap_or_else(|e| panic!("start: {e}"));
    let mut admit = raw_update(&workflow_id, "before-crash", "add");
    admit.wait_policy = Some(WaitPolicy {
        lifecycle_stage: Stage::Admitted as i32,
    });
    if let Some(input) = admit.request.as_mut().and_then(|r| r.input.as_mut()) {
        input.args = Some(Payloads {
            payloads: vec![serde_json::to_vec(&5).map(json_payload).expect("json")],
        });
    }
    let mut service = connect(&target).await.workflow_service();
    let admitted = within(
        "admit",
        service.update_workflow_execution(tonic::Request::new(admit)),
    )
    .await
    .expect("admitted")
    .into_inner();
    assert_eq!(admitted.stage, Stage::Admitted as i32, "{admitted:?}");

    tokio::task::block_in_place(|| server.restart());
    let worker = counter_worker(&target, &task_queue).await;
    let connection = connect(&target).await;
    let completed = poll_completed(&connection, &workflow_id, "before-crash").await;
    assert_eq!(completed, 15, "the admitted update ran after the restart");

    tokio::task::block_in_place(|| server.restart());
    let connection = connect(&target).await;
    assert_eq!(
        poll_completed(&connection, &workflow_id, "before-crash").await,
        15
    );
    let handle: CounterHandle = WorkflowHandle::new(client(&connection), handle.info().clone());
    let options = WorkflowExecuteUpdateOptions::builder()
        .update_id("before-crash".to_string())
        .build();
    let again = within(
        "the same update id again",
        handle.execute_update(CounterWorkflow::add, 5, options),
    )
    .await
    .expect("the same outcome");
    assert_eq!(again, 15, "not run twice");
    let options = WorkflowExecuteUpdateOptions::builder()
        .update_id(unique("finish"))
        .build();
    let finished = within(
        "finish",
        handle.execute_update(CounterWorkflow::finish, (), options),
    )
    .await
    .expect("finish");
    assert_eq!(finished, 15);
    let history = history_of(
        &connection,
        &workflow_id,
        handle.run_id().unwrap_or_default(),
    )
    .await;
    assert_eq!(accepted_and_completed(&history, "before-crash", "add"), 15);
    if let Err(error) = worker.shutdown().await {
        panic!("the worker ended badly: {error}");
    }
}

/// Polls update `update_id` for stage COMPLETED; returns its JSON result.
pub(super) async fn poll_completed(
    connection: &Connection,
    workflow_id: &str,
    update_id: &str,
) -> i64 {
    let mut service = connection.workflow_service();
    let request = PollWorkflowExecutionUpdateRequest {
        namespace: NAMESPACE.into(),
        update_ref: Some(UpdateRef {
            workflow_execution: Some(WorkflowExecution {
                workflow_id: workflow_id.into(),
                run_id: String::new(),
            }),
            update_id: update_id.into(),
        }),
        wait_policy: Some(WaitPolicy {
            lifecycle_stage: Stage::Completed as i32,
        }),
        ..Default::default()
    };
    let response = within(
        "poll the update",
        service.poll_workflow_execution_update(tonic::Request::new(request)),
    )
    .await
    .unwrap_or_else(|e| panic!("poll {update_id}: {e}"))
    .into_inner();
    match response.outcome.and_then(|o| o.value) {
        Some(outcome::Value::Success(payloads)) => {
            serde_json::from_slice(&payloads.payloads[0].data).expect("a JSON result")
        }
        other => panic!("update {update_id}: {other:?} (stage {})", response.stage),
    }
}

fn json_payload(data: Vec<u8>) -> Payload {
    Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
        data,
        ..Default::default()
    }
}
