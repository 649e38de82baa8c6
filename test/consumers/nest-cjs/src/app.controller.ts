import { Controller, Get } from '@nestjs/common';
import { Conn, DrainService } from '@drainkit/nestjs';
// isolatedModules + emitDecoratorMetadata: types in decorated signatures need `import type` (TS1272),
// and they come from @drainkit/nestjs, the package this app depends on.
import type { ConnectionInfo, DrainStats } from '@drainkit/nestjs';

@Controller()
export class AppController {
  constructor(private readonly drain: DrainService) {}

  @Get('slow')
  async slow(@Conn() conn: ConnectionInfo): Promise<string> {
    console.log('slow started');
    await new Promise((resolve) => setTimeout(resolve, 700));
    return `slow done on ${conn.id}`;
  }

  @Get('stats')
  stats(): DrainStats {
    return this.drain.stats();
  }
}
