/** One assignment of a policy as Graph lists or returns it, as far as the pipeline uses it, whatever its kind. */
export interface Assignment {
  id: string;
  /** The group the target names, lower-cased, when it names one; absent for all-devices, all-users and the like. */
  groupId?: string;
  /** The target's @odata.type (e.g. #microsoft.graph.officeConfigurationGroupAssignmentTarget). */
  targetType?: string;
}
