// The subpath export: resolved by `exports` under nodenext, by the cluster/ stub under node10.
import { joinCluster, rollingRestart } from '@drainkit/core/cluster';
import type { RollingRestartOptions } from '@drainkit/core/cluster';

const options: RollingRestartOptions = {};
export const clusterHelpers = [joinCluster, rollingRestart, options] as const;
