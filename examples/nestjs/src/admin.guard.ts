import { Injectable } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';

/** Lets a request through only with `x-admin-token: $ADMIN_TOKEN` (default "dev-token"). */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly token = process.env.ADMIN_TOKEN ?? 'dev-token';

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    return request.headers['x-admin-token'] === this.token;
  }
}
