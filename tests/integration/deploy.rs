//! The Kubernetes manifests under `deploy/`: they parse, the Indexed Job runs as many shards
//! as it says, and each pod's arguments are a `rollsim run` of its own shard onto the volume
//! that the merge Job reads.

use clap::Parser;
use rollsim::cli::{Cli, Command};
use rollsim::report::rundir::Shard;
use serde_json::Value;
use std::path::Path;

fn documents(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text).unwrap_or_else(|e| panic!("{file} does not parse: {e}"))
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect()
}

/// The claim the pod's volume mounted at `/results` uses.
fn results_claim(pod: &Value) -> String {
    let container = &pod["containers"][0];
    let mount = container["volumeMounts"].as_array().unwrap().iter().find(|m| m["mountPath"] == "/results");
    let volume_name = mount.expect("/results is mounted")["name"].clone();
    let volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == volume_name).unwrap();
    volume["persistentVolumeClaim"]["claimName"].as_str().unwrap().to_owned()
}

#[test]
fn the_indexed_job_runs_each_shard_once_onto_the_shared_volume() {
    let docs = documents("deploy/job.yaml");
    let job = of_kind(&docs, "Job");
    let claim = of_kind(&docs, "PersistentVolumeClaim");
    assert_eq!(job["apiVersion"], "batch/v1");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().unwrap();
    assert_eq!(spec["parallelism"].as_u64(), Some(completions), "completions == parallelism");
    assert!(completions >= 2);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(results_claim(pod), claim["metadata"]["name"].as_str().unwrap());
    assert!(strings(&claim["spec"]["accessModes"]).contains(&"ReadWriteMany".to_owned()));

    let container = &pod["containers"][0];
    let env = container["env"].as_array().unwrap();
    let index =
        env.iter().find(|e| e["name"] == "JOB_COMPLETION_INDEX").expect("JOB_COMPLETION_INDEX declared");
    assert_eq!(
        index["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    let args = strings(&container["args"]);
    let after = |flag: &str| args[args.iter().position(|a| a == flag).unwrap() + 1].clone();
    assert_eq!(after("--shard"), format!("$(JOB_COMPLETION_INDEX)/{completions}"));
    assert_eq!(after("--out"), "/results/shard-$(JOB_COMPLETION_INDEX)");
    // The scenario is one the image ships (scenarios/ is its working directory's).
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(&args[1]).is_file(), "{}", args[1]);

    // What each pod runs, as Kubernetes expands it, parses as its own shard.
    for i in 0..completions {
        let expanded: Vec<String> =
            args.iter().map(|a| a.replace("$(JOB_COMPLETION_INDEX)", &i.to_string())).collect();
        let cli = Cli::try_parse_from(std::iter::once("rollsim".to_owned()).chain(expanded))
            .unwrap_or_else(|e| panic!("pod {i}: {e}"));
        let Some(Command::Run(run)) = cli.command else { panic!("pod {i} does not run") };
        assert_eq!(run.shard, Some(Shard { index: i, count: completions }));
        assert_eq!(run.out.unwrap(), Path::new(&format!("/results/shard-{i}")));
        assert!(run.resume, "a retried pod continues its shard");
    }

    let merge_docs = documents("deploy/merge-job.yaml");
    let merge = of_kind(&merge_docs, "Job");
    let merge_pod = &merge["spec"]["template"]["spec"];
    assert_eq!(results_claim(merge_pod), claim["metadata"]["name"].as_str().unwrap());
    let script = strings(&merge_pod["containers"][0]["args"]).join(" ");
    assert!(script.starts_with("rollsim merge /results/shard-* --out "), "{script}");
}
