//! What a retrieval asks for: the study's content as the PACS's C-FIND tells it (SOP classes
//! of the study, or of each series or instance), and the presentation contexts a C-GET
//! proposes for it, split over several associations when one cannot carry them all.
//!
//! Uses: dicom::classes.

use super::classes::{self, Kind, COMPRESSED, RARE};
use std::collections::BTreeSet;

/// An association carries at most 128 presentation contexts (odd ids 1..=255, PS3.8 §9.3.2.2).
pub(crate) const MAX_CONTEXTS: usize = 128;

/// One object of the study, from an instance-level C-FIND.
#[derive(Debug, Clone)]
pub struct Instance {
    pub sop_instance_uid: String,
    pub series_uid: String,
    pub sop_class_uid: Option<String>,
}

/// One series: the SOP classes it holds (from its instances, or guessed from its modality).
#[derive(Debug, Clone)]
pub struct Series {
    pub uid: String,
    pub modality: Option<String>,
    pub classes: Vec<String>,
}

/// What the PACS said about the study before the retrieval.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// Number of Study Related Instances, when answered.
    pub total: Option<u32>,
    /// SOP Classes in Study (0008,0062), when answered.
    pub study_classes: Vec<String>,
    pub series: Vec<Series>,
    pub instances: Vec<Instance>,
}

impl Contents {
    pub fn instance(&self, sop_instance_uid: &str) -> Option<&Instance> {
        self.instances
            .iter()
            .find(|i| i.sop_instance_uid == sop_instance_uid)
    }

    /// The classes an object may be of: its own when known, else its series', else all.
    pub fn classes_of(&self, sop_instance_uid: &str) -> Vec<String> {
        let instance = self.instance(sop_instance_uid);
        if let Some(class) = instance.and_then(|i| i.sop_class_uid.clone()) {
            return vec![class];
        }
        if let Some(series) =
            instance.and_then(|i| self.series.iter().find(|s| s.uid == i.series_uid))
        {
            if !series.classes.is_empty() {
                return series.classes.clone();
            }
        }
        self.all_classes()
    }

    /// Every class the study may hold, as far as the PACS told.
    pub fn all_classes(&self) -> Vec<String> {
        let mut out = self.study_classes.clone();
        for s in &self.series {
            for c in &s.classes {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
        if out.is_empty() {
            out = classes::DEFAULT_CLASSES
                .iter()
                .map(|c| c.to_string())
                .collect();
        }
        out
    }

    /// Fill each series' classes from its instances (when the PACS named them) or from its
    /// modality.
    pub fn derive_series_classes(&mut self) {
        for series in &mut self.series {
            let mut found: Vec<String> = Vec::new();
            for i in self.instances.iter().filter(|i| i.series_uid == series.uid) {
                if let Some(c) = &i.sop_class_uid {
                    if !found.contains(c) {
                        found.push(c.clone());
                    }
                }
            }
            if found.is_empty() {
                if let Some(m) = &series.modality {
                    found = classes::classes_for_modality(m)
                        .iter()
                        .map(|c| c.to_string())
                        .collect();
                }
            }
            series.classes = found;
        }
    }
}

/// What one C-GET or C-MOVE request covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Study,
    Series(String),
    /// Instance level: these objects of one series.
    Instances {
        series: String,
        uids: Vec<String>,
    },
}

/// The storage contexts one association proposes: (SOP class, transfer syntaxes) in order.
pub type Contexts = Vec<(String, Vec<&'static str>)>;

/// One association of a C-GET: its storage contexts and the requests sent on it.
#[derive(Debug, Clone)]
pub struct Batch {
    pub contexts: Contexts,
    pub scopes: Vec<Scope>,
}

fn detailed_count(classes: &[String]) -> usize {
    classes.iter().map(|c| classes::syntaxes_for(c).len()).sum()
}

/// Whether `classes` (known, non-empty) get one context per syntax on one association.
pub fn fits_one(classes: &[String], budget: usize) -> bool {
    !classes.is_empty() && detailed_count(classes) <= budget
}

/// Contexts for `classes` within `budget`: each syntax of [`classes::syntaxes_for`] on its own
/// context (a PACS then sends each object in the syntax it holds it in), the rare compressed
/// syntaxes added for image classes while room remains. When even that does not fit, one
/// context per class offering all its syntaxes (the PACS picks one per class).
pub fn contexts_for(classes: &[String], budget: usize) -> Contexts {
    if detailed_count(classes) > budget {
        let mut out: Contexts = classes
            .iter()
            .map(|c| {
                let mut all = classes::syntaxes_for(c);
                if classes::kind_of(c) == Kind::Image {
                    all.extend_from_slice(RARE);
                }
                (c.clone(), all)
            })
            .collect();
        if out.len() > budget {
            log::warn!(
                "C-GET: {} SOP classes do not fit one association; proposing the first {budget}",
                out.len()
            );
            out.truncate(budget);
        }
        return out;
    }
    let mut out: Contexts = Vec::new();
    for c in classes {
        for ts in classes::syntaxes_for(c) {
            out.push((c.clone(), vec![ts]));
        }
    }
    'rare: for ts in RARE {
        for c in classes
            .iter()
            .filter(|c| classes::kind_of(c) == Kind::Image)
        {
            if out.len() >= budget {
                break 'rare;
            }
            out.push((c.clone(), vec![*ts]));
        }
    }
    out
}

/// Contexts for a retry round: each class with only `syntax`.
pub fn contexts_only(classes: &[String], syntax: &'static str, budget: usize) -> Contexts {
    classes
        .iter()
        .take(budget)
        .map(|c| (c.clone(), vec![syntax]))
        .collect()
}

/// The associations of a C-GET for `contents`, each within `budget` storage contexts: the
/// whole study on one association when its classes fit; else series by series (several
/// series per association while their classes fit), and a series too rich for one
/// association class by class at instance level.
pub fn batches(contents: &Contents, budget: usize) -> Vec<Batch> {
    let study = |classes: &[String]| Batch {
        contexts: contexts_for(classes, budget),
        scopes: vec![Scope::Study],
    };
    if fits_one(&contents.study_classes, budget) {
        return vec![study(&contents.study_classes)];
    }
    if contents.series.is_empty() || contents.series.iter().all(|s| s.classes.is_empty()) {
        return vec![study(&contents.all_classes())];
    }
    let mut out = Vec::new();
    let mut classes: Vec<String> = Vec::new();
    let mut scopes: Vec<Scope> = Vec::new();
    let flush = |classes: &mut Vec<String>, scopes: &mut Vec<Scope>, out: &mut Vec<Batch>| {
        if !scopes.is_empty() {
            out.push(Batch {
                contexts: contexts_for(classes, budget),
                scopes: std::mem::take(scopes),
            });
        }
        classes.clear();
    };
    for series in &contents.series {
        let series_classes = if series.classes.is_empty() {
            contents.all_classes()
        } else {
            series.classes.clone()
        };
        if detailed_count(&series_classes) > budget {
            flush(&mut classes, &mut scopes, &mut out);
            out.extend(split_series(contents, series, &series_classes, budget));
            continue;
        }
        let mut union = classes.clone();
        for c in &series_classes {
            if !union.contains(c) {
                union.push(c.clone());
            }
        }
        if detailed_count(&union) > budget {
            flush(&mut classes, &mut scopes, &mut out);
            union = series_classes;
        }
        classes = union;
        scopes.push(Scope::Series(series.uid.clone()));
    }
    flush(&mut classes, &mut scopes, &mut out);
    out
}

/// A series whose classes need more contexts than one association has: its instances grouped
/// by class, each group on its own association (when the PACS named the instances' classes).
fn split_series(
    contents: &Contents,
    series: &Series,
    classes: &[String],
    budget: usize,
) -> Vec<Batch> {
    let instances: Vec<&Instance> = contents
        .instances
        .iter()
        .filter(|i| i.series_uid == series.uid)
        .collect();
    if instances.is_empty() || instances.iter().any(|i| i.sop_class_uid.is_none()) {
        return vec![Batch {
            contexts: contexts_for(classes, budget),
            scopes: vec![Scope::Series(series.uid.clone())],
        }];
    }
    let mut out: Vec<Batch> = Vec::new();
    let mut group: Vec<String> = Vec::new();
    let mut uids: Vec<String> = Vec::new();
    let mut push = |group: &mut Vec<String>, uids: &mut Vec<String>| {
        if !uids.is_empty() {
            out.push(Batch {
                contexts: contexts_for(group, budget),
                scopes: vec![Scope::Instances {
                    series: series.uid.clone(),
                    uids: std::mem::take(uids),
                }],
            });
        }
        group.clear();
    };
    for class in classes {
        let mut next = group.clone();
        next.push(class.clone());
        if detailed_count(&next) > budget {
            push(&mut group, &mut uids);
            next = vec![class.clone()];
        }
        group = next;
        uids.extend(
            instances
                .iter()
                .filter(|i| i.sop_class_uid.as_deref() == Some(class.as_str()))
                .map(|i| i.sop_instance_uid.clone()),
        );
    }
    push(&mut group, &mut uids);
    out
}

/// Group objects to ask for again by series (instance level needs the series' UID).
pub fn instance_scopes(contents: &Contents, uids: &[String]) -> Vec<Scope> {
    let mut by_series: Vec<(String, Vec<String>)> = Vec::new();
    for uid in uids {
        let Some(series) = contents.instance(uid).map(|i| i.series_uid.clone()) else {
            continue;
        };
        match by_series.iter_mut().find(|(s, _)| *s == series) {
            Some((_, list)) => list.push(uid.clone()),
            None => by_series.push((series, vec![uid.clone()])),
        }
    }
    by_series
        .into_iter()
        .map(|(series, uids)| Scope::Instances { series, uids })
        .collect()
}

/// The compressed syntaxes to try again with, in miic's order: those in `seen` (what the PACS
/// accepted or offered) that are not uncompressed (a PACS converts between those itself).
pub fn retry_syntaxes(seen: &BTreeSet<String>) -> Vec<&'static str> {
    COMPRESSED
        .iter()
        .chain(RARE.iter())
        .chain(std::iter::once(&classes::DEFLATED_LE))
        .filter(|ts| seen.contains(**ts))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
    const KO: &str = "1.2.840.10008.5.1.4.1.1.88.59";

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn image_classes_get_one_context_per_syntax_and_documents_only_uncompressed() {
        let contexts = contexts_for(&s(&[CT, KO]), 127);
        let ct: Vec<_> = contexts.iter().filter(|(c, _)| c == CT).collect();
        let ko: Vec<_> = contexts.iter().filter(|(c, _)| c == KO).collect();
        assert!(ct.iter().all(|(_, ts)| ts.len() == 1));
        assert!(ct.iter().any(|(_, ts)| ts[0] == "1.2.840.10008.1.2.4.80"));
        assert!(
            ct.iter().any(|(_, ts)| ts[0] == "1.2.840.10008.1.2.4.201"),
            "rare ones fill the room"
        );
        assert_eq!(ko.len(), 4);
        assert!(contexts.len() <= 127);
    }

    #[test]
    fn a_study_too_rich_for_one_association_is_split_by_series_within_the_budget() {
        let image_classes: Vec<String> = (1..=12)
            .map(|i| format!("1.2.840.10008.5.1.4.1.1.{i}00"))
            .collect();
        let contents = Contents {
            total: Some(12),
            study_classes: image_classes.clone(),
            series: image_classes
                .iter()
                .enumerate()
                .map(|(i, c)| Series {
                    uid: format!("1.2.3.{i}"),
                    modality: None,
                    classes: vec![c.clone()],
                })
                .collect(),
            instances: Vec::new(),
        };
        let batches = batches(&contents, 127);
        assert!(batches.len() >= 2, "{batches:?}");
        assert!(batches.iter().all(|b| b.contexts.len() <= 127));
        let series: usize = batches.iter().map(|b| b.scopes.len()).sum();
        assert_eq!(series, 12);
    }

    #[test]
    fn a_series_too_rich_for_one_association_is_split_by_class_at_instance_level() {
        let classes: Vec<String> = (1..=12)
            .map(|i| format!("1.2.840.10008.5.1.4.1.1.{i}00"))
            .collect();
        let contents = Contents {
            total: None,
            study_classes: Vec::new(),
            series: vec![Series {
                uid: "1.2.3".into(),
                modality: None,
                classes: classes.clone(),
            }],
            instances: classes
                .iter()
                .enumerate()
                .map(|(i, c)| Instance {
                    sop_instance_uid: format!("1.2.3.{i}"),
                    series_uid: "1.2.3".into(),
                    sop_class_uid: Some(c.clone()),
                })
                .collect(),
        };
        let batches = batches(&contents, 127);
        assert!(batches.len() >= 2);
        let uids: usize = batches
            .iter()
            .flat_map(|b| &b.scopes)
            .map(|s| match s {
                Scope::Instances { uids, .. } => uids.len(),
                _ => panic!("{s:?}"),
            })
            .sum();
        assert_eq!(uids, 12);
    }
}
