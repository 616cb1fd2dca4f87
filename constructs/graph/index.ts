/** The platform graph: built at synth from triggers and declared edges, checked, and written next to the manifests. */
export { buildGraph, checkGraph, GraphRules, topicCycles } from './build';
export type { GraphFunction, GraphInput, GraphProblems, GraphRoute, GraphWarning } from './build';
export { appOutdir, graphFile, writeGraphFiles } from './files';
export { declareTopic, graphEntries, recordCronTrigger, recordQueueTrigger } from './registry';
export type { CronEntry, GraphFunctionRef, QueueTriggerEntry, TopicDeclaration } from './registry';
