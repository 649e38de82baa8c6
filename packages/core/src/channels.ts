import diagnosticsChannel from 'node:diagnostics_channel';
import type { ConnectionCloseEvent, ConnectionOpenEvent, DrainProgressEvent, DrainStartEvent, ShutdownPhaseEvent } from './events.js';
import type { DrainReport, DrainResult } from './types.js';

/**
 * `node:diagnostics_channel` channels, named as undici names `undici:request:*`.
 * Every publish is guarded by `hasSubscribers`, so nobody pays when nobody listens.
 * Each message also carries `drainerId`, to tell drainers apart in one process.
 */
export const channelNames = {
  connectionOpen: 'drainkit:connection:open',
  connectionClose: 'drainkit:connection:close',
  connectionDrained: 'drainkit:connection:drained',
  drainStart: 'drainkit:drain:start',
  drainProgress: 'drainkit:drain:progress',
  drainEnd: 'drainkit:drain:end',
  shutdownPhase: 'drainkit:shutdown:phase',
  requestUnanswered: 'drainkit:request:unanswered',
} as const;

export interface DrainerRef {
  drainerId: string;
}

export type ConnectionOpenMessage = ConnectionOpenEvent & DrainerRef;
export type ConnectionCloseMessage = ConnectionCloseEvent & DrainerRef;
export type ConnectionDrainedMessage = { result: DrainResult } & DrainerRef;
export type DrainStartMessage = DrainStartEvent & DrainerRef;
export type DrainProgressMessage = DrainProgressEvent & DrainerRef;
export type DrainEndMessage = { report: DrainReport } & DrainerRef;
export type ShutdownPhaseMessage = ShutdownPhaseEvent & DrainerRef;

export const channels = {
  connectionOpen: diagnosticsChannel.channel(channelNames.connectionOpen),
  connectionClose: diagnosticsChannel.channel(channelNames.connectionClose),
  connectionDrained: diagnosticsChannel.channel(channelNames.connectionDrained),
  drainStart: diagnosticsChannel.channel(channelNames.drainStart),
  drainProgress: diagnosticsChannel.channel(channelNames.drainProgress),
  drainEnd: diagnosticsChannel.channel(channelNames.drainEnd),
  shutdownPhase: diagnosticsChannel.channel(channelNames.shutdownPhase),
  requestUnanswered: diagnosticsChannel.channel(channelNames.requestUnanswered),
};
