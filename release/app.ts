/** The example app's configuration; defaults (record name, instance type, capacity) come from the schema. */
import { parseAppConfig, type AppConfig } from '../lib/manifest/app-config';

export const appConfig: AppConfig = parseAppConfig({
  app: 'catalog',
  zoneName: 'catalog.example.test',
});
