//! Resolving `spec.release` against the manifests: which object the release names, which
//! controller carries it out ([`Strategy`]), which workload runs the old version
//! ([`Scenario::deployment`](super::model::Scenario::deployment)), and the two images.
//!
//! `workload: KIND/NAME` resolves as follows:
//! * `Deployment/NAME`: the Deployment controller ([`Strategy::Deployment`]), **unless** the
//!   Deployment is managed by something else: a Flagger Canary whose `targetRef` names it
//!   gives [`Strategy::Flagger`] (users change the Deployment and Flagger reacts), and an Argo
//!   Rollout whose `workloadRef` names it gives [`Strategy::Rollout`] (the Rollout runs the
//!   Deployment's template; the Deployment itself is scaled to 0 by Argo and needs no Service).
//! * `Service/NAME`: blue-green by selector between the Deployments `from` and `to` select.
//! * `VirtualService/NAME`: a manual Istio split between the Deployments behind two subsets.
//! * `Rollout/NAME`: Argo Rollouts. `Canary/NAME`: Flagger.

use super::analysis::{AnalysisSite, AnalysisTemplateDoc, RolloutContext, resolve_analysis};
use super::argo::{RolloutDoc, surge_and_unavailable};
use super::diagnostic::{Pos, Report, did_you_mean, list_all};
use super::flagger::{CanaryDoc, MetricTemplateDoc, resolve_checks};
use super::istio::{DestinationRuleDoc, VirtualServiceDoc, find_service, service_of_host};
use super::manifests::DeploymentDoc;
use super::model::{
    DeploymentManifest, DeploymentStrategy, FlaggerRelease, MeshRelease, MeshStep, Release, RolloutAnalyses,
    RolloutRelease, ServiceManifest, ServiceSwitchRelease, Strategy,
};
use super::simulation::{ReleaseSpec, SideValue, WorkloadKind};
use crate::controllers::service_switch::{DEFAULT_KEEP_OLD_FOR, DeploymentRef, SwitchConfig};
use crate::engine::SECOND;
use std::collections::BTreeMap;

/// Every manifest that was read, by kind, in file order.
pub(crate) struct Manifests {
    pub deployments: Vec<DeploymentDoc>,
    pub services: Vec<ServiceManifest>,
    pub rollouts: Vec<RolloutDoc>,
    pub virtual_services: Vec<VirtualServiceDoc>,
    pub destination_rules: Vec<DestinationRuleDoc>,
    pub canaries: Vec<CanaryDoc>,
    /// AnalysisTemplates and ClusterAnalysisTemplates.
    pub analysis_templates: Vec<AnalysisTemplateDoc>,
    /// Kayenta canary configurations, for `provider.kayenta`.
    pub canary_configs: Vec<super::kayenta::CanaryConfigDoc>,
    pub metric_templates: Vec<MetricTemplateDoc>,
    /// Every document was read without problems. When not, "X is not in this file" and other
    /// cross-document errors are not reported: the object may be the one that failed.
    pub all_read: bool,
}

/// Places Deployments written without `metadata.namespace` where they are applied: a
/// Deployment without one that a Canary targets by name, when no Deployment of that name is in
/// the Canary's namespace, is taken to be in the Canary's namespace. Upstream examples leave
/// the namespace to `kubectl apply -n` or a kustomization (Flagger's podinfo: the Deployment
/// names none, its kustomization and the Canary say `test`).
pub(crate) fn place_unnamespaced(m: &mut Manifests) {
    for c in &m.canaries {
        let (target, ns) = (&c.spec.target, &c.spec.namespace);
        if m.deployments.iter().any(|d| &d.manifest.name == target && &d.manifest.namespace == ns) {
            continue;
        }
        let mut unplaced =
            m.deployments.iter_mut().filter(|d| &d.manifest.name == target && !d.namespace_written);
        if let (Some(d), None) = (unplaced.next(), unplaced.next()) {
            d.manifest.namespace = ns.clone();
        }
    }
}

/// The release, resolved.
pub(crate) struct Resolved {
    pub release: Release,
    /// The workload running the old version before the release.
    pub deployment: DeploymentManifest,
    pub strategy: Strategy,
}

/// What the version checks need of a release.
struct Images<'a> {
    versions: &'a [String],
}

impl Images<'_> {
    /// Reports `image` if `spec.versions` does not define it.
    fn check(&self, report: &mut Report, image: &str, pos: Pos, message: String) -> bool {
        if self.versions.iter().any(|v| v == image) {
            return true;
        }
        let defined: Vec<&str> = self.versions.iter().map(String::as_str).collect();
        let mut help = if defined.is_empty() {
            "`spec.versions` is empty".to_string()
        } else {
            format!("defined versions: {}", list_all(&defined))
        };
        if let Some(guess) = did_you_mean(image, &defined) {
            help = format!("did you mean `{guess}`? {help}");
        }
        help += &format!("\nadd it under `spec.versions`, e.g. `{image}: {{errorRate: 0.001}}`");
        report.error(pos, message).label("no such version").help(help);
        false
    }

    /// The images `from` and `to` name, when they are images.
    fn explicit(&self, report: &mut Report, release: &ReleaseSpec) {
        if matches!(release.kind, WorkloadKind::Service | WorkloadKind::VirtualService) {
            return;
        }
        for (key, side) in [("from", &release.from), ("to", &release.to)] {
            if let Some((SideValue::Text(image), pos)) = side {
                let message = format!(
                    "`spec.release.{key}` names version `{image}`, which is not defined in `spec.versions`"
                );
                self.check(report, image, *pos, message);
            }
        }
    }

    /// `from` (an image, written), `to` (written, or `default_to` from the manifest).
    fn images(
        &self,
        report: &mut Report,
        release: &ReleaseSpec,
        owner: &str,
        default_to: (&str, Pos),
    ) -> Option<(String, String)> {
        let not_defined = |key: &str, image: &str| {
            format!("`spec.release.{key}` names version `{image}`, which is not defined in `spec.versions`")
        };
        let from = text_side(report, release.from.as_ref(), "from", release.kind);
        let to = match &release.to {
            Some(_) => text_side(report, release.to.as_ref(), "to", release.kind),
            None => Some((default_to.0.to_string(), default_to.1)),
        };
        let (Some((from, from_pos)), Some((to, to_pos))) = (from, to) else {
            return None;
        };
        let from_ok = self.check(report, &from, from_pos, not_defined("from", &from));
        let to_ok = if release.to.is_some() {
            self.check(report, &to, to_pos, not_defined("to", &to))
        } else {
            let message = format!(
                "the {owner}'s image `{to}` (the default for `spec.release.to`) is not defined in `spec.versions`"
            );
            self.check(report, &to, to_pos, message)
        };
        if !(from_ok && to_ok) {
            return None;
        }
        if from == to {
            let help = if release.to.is_some() {
                "set `spec.release.to` to the new image".to_string()
            } else {
                format!(
                    "`spec.release.to` defaults to the {owner}'s image, `{to}` (line {}): put the new image in the manifest, or set `spec.release.to`",
                    default_to.1.line
                )
            };
            report
                .error(from_pos, format!("the release changes nothing: from and to are both `{from}`"))
                .label("same image as the release target")
                .help(help);
            return None;
        }
        Some((from, to))
    }

    /// The images of a pair of Deployments (Service and VirtualService releases).
    fn pair(
        &self,
        report: &mut Report,
        old: &DeploymentDoc,
        new: &DeploymentDoc,
        at: Pos,
    ) -> Option<(String, String)> {
        let mut ok = true;
        for (side, d) in [("from", old), ("to", new)] {
            let image = &d.manifest.image;
            let message = format!(
                "the image `{image}` of Deployment `{}` (the `{side}` side of the release) is not defined in `spec.versions`",
                d.manifest.name
            );
            ok &= self.check(report, image, d.image_pos, message);
        }
        if !ok {
            return None;
        }
        let (from, to) = (old.manifest.image.clone(), new.manifest.image.clone());
        if from == to {
            report
                .error(at, format!("the release changes nothing: both Deployments run `{from}`"))
                .label(format!("`{}` and `{}` have the same image", old.manifest.name, new.manifest.name))
                .help(format!(
                    "put the new image in Deployment `{}` (line {})",
                    new.manifest.name, new.image_pos.line
                ));
            return None;
        }
        Some((from, to))
    }
}

/// `from`/`to` of a kind that takes a string (an image or a subset name).
fn text_side(
    report: &mut Report,
    side: Option<&(SideValue, Pos)>,
    key: &str,
    kind: WorkloadKind,
) -> Option<(String, Pos)> {
    match side? {
        (SideValue::Text(t), pos) => Some((t.clone(), *pos)),
        (SideValue::Map(_), pos) => {
            let what = if kind == WorkloadKind::VirtualService {
                "a subset name such as `v1`"
            } else {
                "an image such as `myapp:1.0`"
            };
            report
                .error(*pos, format!("`spec.release.{key}` must be {what} for a `{}` release", kind.name()))
                .label("a selector map is only for `Service/NAME` releases")
                .help(format!("write `{key}: ...` as a plain string"));
            None
        }
    }
}

/// `from`/`to` of a Service release: a selector map.
fn map_side<'a>(
    report: &mut Report,
    side: Option<&'a (SideValue, Pos)>,
    key: &str,
) -> Option<(&'a BTreeMap<String, String>, Pos)> {
    match side? {
        (SideValue::Map(m), pos) if !m.is_empty() => Some((m, *pos)),
        (_, pos) => {
            let example = if key == "from" { "{version: blue}" } else { "{version: green}" };
            report
                .error(*pos, format!("`spec.release.{key}` of a `Service` release must be a selector map"))
                .label("expected the labels that pick one Deployment")
                .help(format!(
                    "write e.g. `{key}: {example}`: the Service's selector with these labels overlaid selects the {} Deployment",
                    if key == "from" { "old" } else { "new" }
                ));
            None
        }
    }
}

/// Finds the one object named `name`; reports a missing (with a did-you-mean) or ambiguous one.
fn find_named<'m, T>(
    report: &mut Report,
    items: &'m [T],
    name_of: impl Fn(&T) -> (&str, Pos),
    kind: &str,
    (name, pos): (&str, Pos),
    all_read: bool,
) -> Option<&'m T> {
    let matches: Vec<&T> = items.iter().filter(|t| name_of(t).0 == name).collect();
    match matches.as_slice() {
        [one] => Some(*one),
        [] => {
            if all_read {
                let names: Vec<&str> = items.iter().map(|t| name_of(t).0).collect();
                let help = match (names.as_slice(), did_you_mean(name, &names)) {
                    ([], _) => {
                        format!("this file has no {kind}: add your {kind} manifest as another `---` document")
                    }
                    (_, Some(guess)) => {
                        format!("did you mean `{kind}/{guess}`? {kind}s in this file: {}", list_all(&names))
                    }
                    _ => format!("{kind}s in this file: {}", list_all(&names)),
                };
                report
                    .error(
                        pos,
                        format!(
                            "`spec.release.workload` names {kind} `{name}`, which is not in {}",
                            if report.sources.several() { "these files" } else { "this file" }
                        ),
                    )
                    .label(format!("no {kind} with this name"))
                    .help(help);
            }
            None
        }
        [first, second, ..] => {
            let (a, b) = (report.sources.place(name_of(first).1), report.sources.place(name_of(second).1));
            report
                .error(
                    pos,
                    format!(
                        "`spec.release.workload` is ambiguous: {} {kind}s are named `{name}`",
                        matches.len()
                    ),
                )
                .label(format!("matches more than one {kind}"))
                .help(format!(
                    "they are at {} and {}; a scenario releases one {kind}: leave the other out of \
                     the files given (`-f`), or rename it (`metadata.name`)",
                    a, b
                ));
            None
        }
    }
}

/// Resolves `spec.release`; see the module documentation.
pub(crate) fn resolve(
    report: &mut Report,
    release: &ReleaseSpec,
    versions: &[String],
    m: &Manifests,
) -> Option<Resolved> {
    let images = Images { versions };
    let name = (release.workload.0.as_str(), release.workload.1);
    let resolved = match release.kind {
        WorkloadKind::Deployment => {
            let d = find_named(
                report,
                &m.deployments,
                |d| (d.manifest.name.as_str(), d.name_pos),
                "Deployment",
                name,
                m.all_read,
            );
            d.and_then(|d| deployment(report, release, &images, m, d))
        }
        WorkloadKind::Rollout => {
            let r = find_named(
                report,
                &m.rollouts,
                |r| (r.name.as_str(), r.name_pos),
                "Rollout",
                name,
                m.all_read,
            );
            r.and_then(|r| rollout(report, release, &images, m, r))
        }
        WorkloadKind::Canary => {
            let c = find_named(
                report,
                &m.canaries,
                |c| (c.spec.name.as_str(), c.name_pos),
                "Canary",
                name,
                m.all_read,
            );
            c.and_then(|c| canary(report, release, &images, m, c))
        }
        WorkloadKind::Service => {
            let s = find_named(
                report,
                &m.services,
                |s| (s.name.as_str(), release.workload.1),
                "Service",
                name,
                m.all_read,
            )?;
            service(report, release, &images, m, s)
        }
        WorkloadKind::VirtualService => {
            let vs = find_named(
                report,
                &m.virtual_services,
                |v| (v.name.as_str(), v.name_pos),
                "VirtualService",
                name,
                m.all_read,
            )?;
            mesh(report, release, &images, m, vs)
        }
    };
    if resolved.is_none() {
        // The workload may have failed to load: still check the images the release names
        // (a problem reported twice is reported once).
        images.explicit(report, release);
    }
    resolved
}

/// `Deployment/NAME`: the Deployment controller, or the Canary / Rollout that manages it.
fn deployment(
    report: &mut Report,
    release: &ReleaseSpec,
    images: &Images,
    m: &Manifests,
    d: &DeploymentDoc,
) -> Option<Resolved> {
    let ns = &d.manifest.namespace;
    let flagger = m.canaries.iter().find(|c| c.spec.target == d.manifest.name && &c.spec.namespace == ns);
    let argo = m
        .rollouts
        .iter()
        .find(|r| r.workload_ref.as_ref().is_some_and(|(n, _)| n == &d.manifest.name) && &r.namespace == ns);
    match (flagger, argo) {
        (Some(c), Some(r)) => {
            report
                .error(release.workload.1, format!("Deployment `{}` is managed twice", d.manifest.name))
                .label(format!("Canary `{}` targets it and Rollout `{}` references it", c.spec.name, r.name))
                .help(
                    "a Deployment is released by Flagger or by Argo Rollouts, not both; remove one of them",
                );
            None
        }
        (Some(c), None) => canary(report, release, images, m, c),
        (None, Some(r)) => rollout(report, release, images, m, r),
        (None, None) => {
            let mut ok = true;
            for (key, pos) in [
                ("promoteAfter", release.promote_after.as_ref().map(|p| p.1)),
                ("inconclusive", release.inconclusive.as_ref().map(|p| p.1)),
            ] {
                if let Some(pos) = pos {
                    report
                        .error(pos, format!("`spec.release.{key}` applies only to a `Rollout` release"))
                        .label(format!("Deployment `{}` is not a Rollout's `workloadRef`", d.manifest.name))
                        .help(format!("remove `{key}`, or release a Rollout: `workload: Rollout/NAME`"));
                    ok = false;
                }
            }
            let (from, to) =
                images.images(report, release, "Deployment", (&d.manifest.image, d.image_pos))?;
            if !ok {
                return None;
            }
            Some(Resolved {
                release: make_release(release, from, to),
                deployment: d.manifest.clone(),
                strategy: Strategy::Deployment,
            })
        }
    }
}

fn make_release(release: &ReleaseSpec, from_image: String, to_image: String) -> Release {
    Release { workload: release.workload.0.clone(), from_image, to_image, at: release.at }
}

/// Reports a Service a Rollout names that is not in the file.
fn service_exists(
    report: &mut Report,
    m: &Manifests,
    namespace: &str,
    (name, pos): &(String, Pos),
    owner: &str,
) -> bool {
    if m.services.iter().any(|s| &s.name == name && s.namespace == namespace) {
        return true;
    }
    let names: Vec<&str> =
        m.services.iter().filter(|s| s.namespace == namespace).map(|s| s.name.as_str()).collect();
    let help = match did_you_mean(name, &names) {
        Some(guess) => {
            format!("did you mean `{guess}`? add a `v1 Service` named `{name}` in namespace `{namespace}`")
        }
        None => format!("add a `v1 Service` named `{name}` in namespace `{namespace}` to this file"),
    };
    report
        .error(*pos, format!("{owner} names Service `{name}`, which is not in this file"))
        .label("no Service with this name")
        .help(help);
    false
}

/// An Argo Rollout.
fn rollout(
    report: &mut Report,
    release: &ReleaseSpec,
    images: &Images,
    m: &Manifests,
    r: &RolloutDoc,
) -> Option<Resolved> {
    let owner = format!("Rollout `{}`", r.name);
    // The pod template: its own, or the referenced Deployment's.
    let (labels, image, image_pos, container, requests, probe, grace) = match (&r.template, &r.workload_ref) {
        (Some(t), _) => (
            t.labels.clone(),
            t.image.clone(),
            t.image_pos,
            t.container.clone(),
            t.requests,
            t.probe,
            t.grace,
        ),
        (None, Some((name, pos))) => {
            let Some(d) = m
                .deployments
                .iter()
                .find(|d| &d.manifest.name == name && d.manifest.namespace == r.namespace)
            else {
                if m.all_read {
                    report
                        .error(*pos, format!("{owner} references Deployment `{name}`, which is not in this file"))
                        .label("no Deployment with this name in the Rollout's namespace")
                        .help("add the Deployment whose pod template the Rollout runs, or give the Rollout a `template`");
                }
                return None;
            };
            let image_pos = d.image_pos;
            let d = &d.manifest;
            let grace = d.termination_grace_period_seconds;
            (
                d.template_labels.clone(),
                d.image.clone(),
                image_pos,
                d.container.clone(),
                d.requests,
                d.readiness_probe,
                grace,
            )
        }
        (None, None) => return None,
    };
    let (max_surge, max_unavailable) = surge_and_unavailable(&r.spec);
    let manifest = DeploymentManifest {
        name: r.name.clone(),
        namespace: r.namespace.clone(),
        replicas: u32::try_from(r.spec.replicas).unwrap_or(u32::MAX),
        strategy: DeploymentStrategy::RollingUpdate { max_surge, max_unavailable },
        min_ready_seconds: r.spec.min_ready_seconds,
        progress_deadline_seconds: Some(u32::try_from(r.spec.progress_deadline / SECOND).unwrap_or(u32::MAX)),
        revision_history_limit: r.revision_history_limit,
        paused: false,
        template_labels: labels,
        image,
        container,
        requests,
        readiness_probe: probe,
        termination_grace_period_seconds: grace,
    };
    let versions = images.images(report, release, "Rollout", (&manifest.image, image_pos));
    let mut ok = true;
    if m.all_read {
        for service in &r.services {
            ok &= service_exists(report, m, &r.namespace, service, &owner);
        }
        if let Some((vs, pos)) = &r.virtual_service {
            let found = m.virtual_services.iter().any(|v| {
                v.name == *vs
                    || service_of_host(vs, &r.namespace)
                        .is_some_and(|(n, ns)| v.name == n && v.namespace == ns)
            });
            if !found {
                report
                    .error(
                        *pos,
                        format!("{owner} routes through VirtualService `{vs}`, which is not in this file"),
                    )
                    .label("no VirtualService with this name")
                    .help(
                        "add the `networking.istio.io/v1 VirtualService` the Rollout writes its weights to",
                    );
                ok = false;
            }
        }
        if let Some((dr, pos)) = &r.destination_rule
            && !m.destination_rules.iter().any(|d| d.name == *dr)
        {
            report
                .error(*pos, format!("{owner} names DestinationRule `{dr}`, which is not in this file"))
                .label("no DestinationRule with this name")
                .help("add the `networking.istio.io/v1 DestinationRule` whose subsets the Rollout manages");
            ok = false;
        }
        if let Some((active, pos)) = &r.active_service
            && let Some(s) = m.services.iter().find(|s| &s.name == active && s.namespace == r.namespace)
            && !s.selects(&manifest.namespace, &manifest.template_labels)
        {
            report
                .error(*pos, format!("activeService `{active}` does not select the pods of Rollout `{}`", r.name))
                .label("its selector does not match the pod template's labels")
                .help("the active Service's `spec.selector` must be a subset of the Rollout's pod labels (Argo adds the pod-template hash)");
            ok = false;
        }
    }
    let (from, to) = versions?;
    if !ok {
        return None;
    }
    let ctx = RolloutContext {
        owner: &owner,
        namespace: &r.namespace,
        from_image: &from,
        to_image: &to,
        all_read: m.all_read,
    };
    let mut analyses = RolloutAnalyses {
        on_inconclusive: release.inconclusive.as_ref().map(|i| i.0),
        ..RolloutAnalyses::default()
    };
    for a in &r.analyses {
        let Some(run) = resolve_analysis(report, a, &m.analysis_templates, &m.canary_configs, &ctx) else {
            ok = false;
            continue;
        };
        match a.site {
            AnalysisSite::Step(i) => {
                analyses.steps.insert(i, run);
            }
            AnalysisSite::Background(from_step) => analyses.background = Some((run, from_step)),
            AnalysisSite::PrePromotion => analyses.pre_promotion = Some(run),
            AnalysisSite::PostPromotion => analyses.post_promotion = Some(run),
        }
    }
    if !ok {
        return None;
    }
    Some(Resolved {
        release: make_release(release, from, to),
        deployment: manifest,
        strategy: Strategy::Rollout(RolloutRelease {
            name: r.name.clone(),
            spec: r.spec.clone(),
            virtual_service: r.virtual_service.as_ref().map(|(n, _)| n.clone()),
            promote_after: release.promote_after.as_ref().map(|p| p.0),
            analyses,
        }),
    })
}

/// A Flagger Canary: the target Deployment runs the old version; no Service is required
/// (Flagger generates `<target>`, `<target>-primary` and `<target>-canary`).
fn canary(
    report: &mut Report,
    release: &ReleaseSpec,
    images: &Images,
    m: &Manifests,
    c: &CanaryDoc,
) -> Option<Resolved> {
    let spec = &c.spec;
    let Some(d) = m
        .deployments
        .iter()
        .find(|d| d.manifest.name == spec.target && d.manifest.namespace == spec.namespace)
    else {
        if m.all_read {
            report
                .error(
                    c.target_pos,
                    format!(
                        "Canary `{}` targets Deployment `{}`, which is not in this file",
                        spec.name, spec.target
                    ),
                )
                .label(format!("no Deployment with this name in namespace `{}`", spec.namespace))
                .help("add the target Deployment to this file (Flagger copies it to `<name>-primary`)");
        }
        return None;
    };
    let (from, to) = images.images(report, release, "Deployment", (&d.manifest.image, d.image_pos))?;
    let checks = resolve_checks(report, c, &m.metric_templates, m.all_read)?;
    Some(Resolved {
        release: make_release(release, from, to),
        deployment: d.manifest.clone(),
        strategy: Strategy::Flagger(FlaggerRelease { spec: spec.clone(), checks }),
    })
}

/// The one Deployment in `namespace` whose pod labels include every label of `selector`.
fn select_one<'m>(
    report: &mut Report,
    m: &'m Manifests,
    namespace: &str,
    selector: &BTreeMap<String, String>,
    pos: Pos,
    what: &str,
) -> Option<&'m DeploymentDoc> {
    let text = selector_text(selector);
    let found: Vec<&DeploymentDoc> = m
        .deployments
        .iter()
        .filter(|d| {
            d.manifest.namespace == namespace
                && selector.iter().all(|(k, v)| d.manifest.template_labels.get(k) == Some(v))
        })
        .collect();
    match found.as_slice() {
        [one] => Some(*one),
        [] => {
            if m.all_read {
                report
                    .error(pos, format!("{what} matches no Deployment"))
                    .label(format!("no Deployment in namespace `{namespace}` has the pod labels {{{text}}}"))
                    .help(
                        "each side of the release must select exactly one Deployment's pod template labels",
                    );
            }
            None
        }
        [a, b, ..] => {
            report
                .error(pos, format!("{what} matches {} Deployments", found.len()))
                .label(format!(
                    "`{}` and `{}` both have the pod labels {{{text}}}",
                    a.manifest.name, b.manifest.name
                ))
                .help("add a label (e.g. `version`) that tells the Deployments apart");
            None
        }
    }
}

/// `{app: myapp, version: green}` → `app=myapp,version=green`.
fn selector_text(selector: &BTreeMap<String, String>) -> String {
    selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// A Deployment of a pair must have pods to switch to.
fn positive_replicas(report: &mut Report, d: &DeploymentDoc) -> bool {
    if d.manifest.replicas > 0 {
        return true;
    }
    report
        .error(d.name_pos, format!("Deployment `{}` has 0 replicas", d.manifest.name))
        .label("both Deployments of a switch need `spec.replicas` > 0")
        .help("set `spec.replicas` to the size it runs at when it serves all the traffic");
    false
}

/// Blue-green by Service selector.
fn service(
    report: &mut Report,
    release: &ReleaseSpec,
    images: &Images,
    m: &Manifests,
    s: &ServiceManifest,
) -> Option<Resolved> {
    let from = map_side(report, release.from.as_ref(), "from");
    let to = map_side(report, release.to.as_ref(), "to");
    let (Some((from, from_pos)), Some((to, to_pos))) = (from, to) else {
        return None;
    };
    let overlay = |side: &BTreeMap<String, String>| {
        let mut sel = s.selector.clone();
        sel.extend(side.iter().map(|(k, v)| (k.clone(), v.clone())));
        sel
    };
    let what = |key: &str, sel: &BTreeMap<String, String>| {
        format!("the selector of Service `{}` with `{key}` overlaid ({})", s.name, selector_text(sel))
    };
    let (from_sel, to_sel) = (overlay(from), overlay(to));
    let old = select_one(report, m, &s.namespace, &from_sel, from_pos, &what("from", &from_sel));
    let new = select_one(report, m, &s.namespace, &to_sel, to_pos, &what("to", &to_sel));
    let (old, new) = (old?, new?);
    if old.manifest.name == new.manifest.name {
        report
            .error(to_pos, format!("`from` and `to` select the same Deployment `{}`", old.manifest.name))
            .label("the release would switch to the Deployment already selected")
            .help(
                "`to` must select the other Deployment, e.g. `from: {version: blue}`, `to: {version: green}`",
            );
        return None;
    }
    let replicas_ok = positive_replicas(report, old) & positive_replicas(report, new);
    let (from_image, to_image) = images.pair(report, old, new, to_pos)?;
    if !replicas_ok {
        return None;
    }
    let side = |d: &DeploymentDoc, sel: &BTreeMap<String, String>| DeploymentRef {
        name: d.manifest.name.clone(),
        selector: selector_text(sel),
        replicas: i64::from(d.manifest.replicas),
    };
    let mut config = SwitchConfig::new(side(old, from), side(new, to));
    config.switch_at = release.switch_at;
    config.keep_old_for = release.keep_old_for.unwrap_or(DEFAULT_KEEP_OLD_FOR);
    Some(Resolved {
        release: make_release(release, from_image, to_image),
        deployment: old.manifest.clone(),
        strategy: Strategy::ServiceSwitch(ServiceSwitchRelease {
            service: s.name.clone(),
            config,
            new_deployment: new.manifest.clone(),
        }),
    })
}

/// A manual Istio split between the Deployments behind two DestinationRule subsets.
fn mesh(
    report: &mut Report,
    release: &ReleaseSpec,
    images: &Images,
    m: &Manifests,
    vs: &VirtualServiceDoc,
) -> Option<Resolved> {
    let at = release.workload.1;
    let Some(route) = vs.http.first() else {
        report
            .error(vs.name_pos, format!("VirtualService `{}` has no `http` route", vs.name))
            .label("the release splits the first `http[].route`")
            .help("add `http: [{route: [{destination: {host: myapp, subset: v1}, weight: 90}, {destination: {host: myapp, subset: v2}, weight: 10}]}]`");
        return None;
    };
    let pair = match route.destinations.as_slice() {
        [a, b] if a.subset.is_some() && b.subset.is_some() => [a, b],
        _ => {
            report
                .error(route.pos, format!("the first route of VirtualService `{}` must have exactly two destinations with a `subset`", vs.name))
                .label(format!("{} destination(s) here", route.destinations.len()))
                .help("a mesh release splits traffic between two subsets, e.g. `v1` (weight 90) and `v2` (weight 10)");
            return None;
        }
    };
    if service_of_host(&pair[0].host, &vs.namespace) != service_of_host(&pair[1].host, &vs.namespace) {
        report
            .error(pair[1].host_pos, "both destinations of the route must have the same host")
            .label(format!("`{}` here, `{}` in the first destination", pair[1].host, pair[0].host))
            .help("a mesh release splits one Service's traffic between two of its subsets");
        return None;
    }
    let host = &pair[0].host;
    let Some(service) = find_service(&m.services, host, &vs.namespace) else {
        if m.all_read {
            report
                .error(pair[0].host_pos, format!("host `{host}` names no Service in this file"))
                .label("expected the name of a Service (`myapp`, `myapp.ns` or `myapp.ns.svc.cluster.local`)")
                .help("add the `v1 Service` whose pods the subsets divide");
        }
        return None;
    };
    let key = (service.name.clone(), service.namespace.clone());
    let Some(rule) =
        m.destination_rules.iter().find(|d| service_of_host(&d.host, &d.namespace) == Some(key.clone()))
    else {
        if m.all_read {
            report
                .error(pair[0].host_pos, format!("no DestinationRule in this file defines subsets for host `{host}`"))
                .label("the subsets need a DestinationRule")
                .help(format!("add `kind: DestinationRule` with `host: {host}` and `subsets: [{{name: v1, labels: {{version: v1}}}}, ...]`"));
        }
        return None;
    };
    // `from` / `to`: subset names, defaulting to the route's first and second destinations.
    let subset_names: Vec<&str> =
        pair.iter().filter_map(|d| d.subset.as_ref().map(|s| s.0.as_str())).collect();
    let pick = |report: &mut Report, key: &str, index: usize| -> Option<usize> {
        let side = if key == "from" { release.from.as_ref() } else { release.to.as_ref() };
        if side.is_none() {
            return Some(index);
        }
        let (name, pos) = text_side(report, side, key, WorkloadKind::VirtualService)?;
        if let Some(i) = subset_names.iter().position(|s| *s == name) {
            return Some(i);
        }
        let help = match did_you_mean(&name, &subset_names) {
            Some(guess) => {
                format!("did you mean `{guess}`? the route's subsets: {}", list_all(&subset_names))
            }
            None => format!("the route's subsets: {}", list_all(&subset_names)),
        };
        report
            .error(
                pos,
                format!(
                    "`spec.release.{key}` names subset `{name}`, which is not a destination of the route"
                ),
            )
            .label("not in the VirtualService's first route")
            .help(help);
        None
    };
    let from = pick(report, "from", 0);
    let to = pick(report, "to", 1);
    let (from, to) = (from?, to?);
    if from == to {
        let pos = release.to.as_ref().or(release.from.as_ref()).map_or(at, |s| s.1);
        report
            .error(pos, format!("`from` and `to` are both subset `{}`", subset_names[from]))
            .label("the release would change nothing")
            .help("name the route's two subsets, one as `from` and the other as `to`");
        return None;
    }
    let mut sides = Vec::new();
    for dest in pair {
        let (subset, pos) = dest.subset.as_ref()?;
        let Some(def) = rule.subsets.iter().find(|s| &s.name == subset) else {
            let names: Vec<&str> = rule.subsets.iter().map(|s| s.name.as_str()).collect();
            report
                .error(*pos, format!("subset `{subset}` is not defined in DestinationRule `{}`", rule.name))
                .label("no such subset")
                .help(match did_you_mean(subset, &names) {
                    Some(guess) => format!("did you mean `{guess}`? subsets: {}", list_all(&names)),
                    None => format!("subsets of `{}`: {}", rule.name, list_all(&names)),
                });
            return None;
        };
        let mut selector = service.selector.clone();
        selector.extend(def.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        let what = format!(
            "subset `{subset}` (its labels on line {} with Service `{}`'s selector)",
            def.pos.line, service.name
        );
        sides.push(select_one(report, m, &service.namespace, &selector, *pos, &what));
    }
    let (old, new) = (sides[from]?, sides[to]?);
    let (from_image, to_image) = images.pair(report, old, new, at)?;
    let steps = match &release.steps {
        Some(steps) => steps.clone(),
        None => {
            let total: i64 = pair.iter().map(|d| i64::from(d.weight)).sum();
            let weight = (i64::from(pair[to].weight) as f64 * 100.0 / total as f64).round() as u32;
            vec![MeshStep { weight, hold: None }]
        }
    };
    Some(Resolved {
        release: make_release(release, from_image, to_image),
        deployment: old.manifest.clone(),
        strategy: Strategy::Mesh(MeshRelease {
            virtual_service: vs.name.clone(),
            from_subset: subset_names[from].to_string(),
            to_subset: subset_names[to].to_string(),
            new_deployment: new.manifest.clone(),
            steps,
        }),
    })
}
