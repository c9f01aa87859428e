// Package investigate explains a symptom: from an alert, or a service
// with a signal (errors, latency above a threshold, a PromQL expression)
// and a window, it computes a ranked list of findings with the evidence
// a person can open (docs/investigate.md):
//
//  1. onset and scope: the change point of the symptom (BinomialChangePoint
//     on the share of bad requests, MeanChangePoint on a PromQL series),
//     the same interval a day and a week before, the routes affected;
//  2. BubbleUp: the attribute=value pairs over-represented in the bad
//     traces against the good ones (RankDims, after Honeycomb's BubbleUp);
//  3. where: the span that fails first, or adds the latency on the
//     critical path, over the bad traces;
//  4. what: log templates new or risen since the onset in the implicated
//     services' logs and on the bad traces (PoissonRise);
//  5. what changed: change events before the onset on the implicated
//     services and their dependencies, by closeness and overlap;
//  6. saturation: USE metrics that departed from their level at the onset;
//
// and a summary sentence from the findings. The work is done inside the
// stores: one scan of the symptom's entry spans (a few columns), one scan
// of the traces of a time slice around the onset (sampled when the
// window holds more than the budget), one scan of the implicated
// services' logs, PromQL range queries and one change-event listing.
package investigate
