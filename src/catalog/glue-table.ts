/** The Glue table definition for the JSON lake: what Athena and the local engine read. Pure. */
import type { TableInput, StorageDescriptor } from '@aws-sdk/client-glue';
import type { Column } from './schema';

export const JSON_SERDE = 'org.openx.data.jsonserde.JsonSerDe';
export const INPUT_FORMAT = 'org.apache.hadoop.mapred.TextInputFormat';
export const OUTPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat';

export function storageDescriptor(location: string, columns: readonly Column[]): StorageDescriptor {
  return {
    Columns: columns.map((c) => ({ Name: c.name, Type: c.type })),
    Location: location,
    InputFormat: INPUT_FORMAT,
    OutputFormat: OUTPUT_FORMAT,
    Compressed: false,
    SerdeInfo: {
      SerializationLibrary: JSON_SERDE,
      Parameters: { 'ignore.malformed.json': 'true', 'timestamp.formats': "yyyy-MM-dd'T'HH:mm:ss.SSSZZ" },
    },
  };
}

export function tableInput(args: {
  table: string;
  location: string;
  columns: readonly Column[];
  partitionBy: readonly string[];
  parameters?: Record<string, string>;
}): TableInput {
  return {
    Name: args.table,
    TableType: 'EXTERNAL_TABLE',
    Parameters: { classification: 'json', EXTERNAL: 'TRUE', ...args.parameters },
    PartitionKeys: args.partitionBy.map((name) => ({ Name: name, Type: 'string' })),
    StorageDescriptor: storageDescriptor(args.location, args.columns),
  };
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
