/*
 * `npm run bench:peers`: creates and reads the Iceberg table that Apache Iceberg's Kafka Connect sink
 * writes, through Iceberg's own catalog and table metadata (the same Maven artifacts the sink runs
 * on). Compiled with javac at bench time into a temporary directory; never committed as a binary.
 *
 *   java IcebergLake <catalog.properties> create <db.table>   the table, partitioned by symbol and year(trade_date)
 *   java IcebergLake <catalog.properties> rows <db.table>     every record of the current snapshot, one JSON object a line
 *   java IcebergLake <catalog.properties> added <db.table>    per snapshot of the current lineage: its id, commit time
 *                                                             and the ingested_at of every record its data files added
 */
import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.nio.charset.StandardCharsets;
import org.apache.iceberg.CatalogUtil;
import org.apache.iceberg.DataFile;
import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.Schema;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.Table;
import org.apache.iceberg.catalog.Catalog;
import org.apache.iceberg.catalog.SupportsNamespaces;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.data.parquet.GenericParquetReaders;
import org.apache.iceberg.io.CloseableIterable;
import org.apache.iceberg.parquet.Parquet;
import org.apache.iceberg.types.Types;
import org.apache.iceberg.util.SnapshotUtil;

public final class IcebergLake {
  /** The columns of ticklake's lake records, typed as a data engineer would declare them. */
  static final Schema SCHEMA =
      new Schema(
          Types.NestedField.optional(1, "symbol", Types.StringType.get()),
          Types.NestedField.optional(2, "trade_date", Types.DateType.get()),
          Types.NestedField.optional(3, "open", Types.DoubleType.get()),
          Types.NestedField.optional(4, "high", Types.DoubleType.get()),
          Types.NestedField.optional(5, "low", Types.DoubleType.get()),
          Types.NestedField.optional(6, "close", Types.DoubleType.get()),
          Types.NestedField.optional(7, "adj_close", Types.DoubleType.get()),
          Types.NestedField.optional(8, "volume", Types.LongType.get()),
          Types.NestedField.optional(9, "close_usd", Types.DoubleType.get()),
          Types.NestedField.optional(10, "source", Types.StringType.get()),
          Types.NestedField.optional(11, "row", Types.LongType.get()),
          Types.NestedField.optional(12, "ingested_at", Types.TimestampType.withZone()));

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: IcebergLake <catalog.properties> create|rows|added <db.table>");
      System.exit(2);
    }
    Properties file = new Properties();
    try (InputStream in = new FileInputStream(args[0])) {
      file.load(in);
    }
    Map<String, String> props = new HashMap<>();
    file.stringPropertyNames().forEach(name -> props.put(name, file.getProperty(name)));
    Catalog catalog = CatalogUtil.buildIcebergCatalog("ticklake", props, null);
    TableIdentifier id = TableIdentifier.parse(args[2]);
    switch (args[1]) {
      case "create":
        create(catalog, id);
        break;
      case "rows":
        rows(catalog.loadTable(id));
        break;
      case "added":
        added(catalog.loadTable(id));
        break;
      default:
        System.err.println("unknown command " + args[1] + "; expected create, rows or added");
        System.exit(2);
    }
    POOL.shutdown();
  }

  static void create(Catalog catalog, TableIdentifier id) {
    if (catalog instanceof SupportsNamespaces) {
      SupportsNamespaces namespaces = (SupportsNamespaces) catalog;
      if (!namespaces.namespaceExists(id.namespace())) namespaces.createNamespace(id.namespace());
    }
    PartitionSpec spec = PartitionSpec.builderFor(SCHEMA).identity("symbol").year("trade_date").build();
    Table table = catalog.createTable(id, SCHEMA, spec);
    System.out.println(table.location());
  }

  static JsonGenerator json(OutputStream out) throws Exception {
    JsonGenerator generator = new JsonFactory().createGenerator(out, JsonEncoding.UTF8);
    generator.setRootValueSeparator(null);
    return generator;
  }

  /** Reads the data files in parallel: one GET after another is slow on an object store, not the decoding. */
  static final ExecutorService POOL = Executors.newFixedThreadPool(8);

  /** The records of each file, in parallel, encoded by `encode` (one buffer per file), written in file order. */
  static long readFiles(Table table, List<String> files, Schema projection, RecordEncoder encode, OutputStream out)
      throws Exception {
    List<Future<byte[]>> parts = new ArrayList<>();
    AtomicLong count = new AtomicLong();
    for (String file : files) {
      parts.add(
          POOL.submit(
              () -> {
                ByteArrayOutputStream buffer = new ByteArrayOutputStream();
                try (JsonGenerator gen = json(buffer);
                    CloseableIterable<Record> records =
                        Parquet.read(table.io().newInputFile(file))
                            .project(projection)
                            .createReaderFunc(type -> GenericParquetReaders.buildReader(projection, type))
                            .build()) {
                  for (Record r : records) {
                    encode.write(gen, r);
                    count.incrementAndGet();
                  }
                }
                return buffer.toByteArray();
              }));
    }
    for (Future<byte[]> part : parts) out.write(part.get());
    return count.get();
  }

  interface RecordEncoder {
    void write(JsonGenerator out, Record r) throws Exception;
  }

  /**
   * Every record of the current snapshot: the files its scan plans from the table's metadata (an
   * append-only table: a delete file would make this reading wrong, so it fails on one).
   */
  static void rows(Table table) throws Exception {
    List<String> files = new ArrayList<>();
    try (CloseableIterable<FileScanTask> tasks = table.newScan().planFiles()) {
      for (FileScanTask task : tasks) {
        if (!task.deletes().isEmpty()) throw new IllegalStateException("the table has delete files: " + task);
        if (task.start() != 0 || task.length() != task.file().fileSizeInBytes()) {
          throw new IllegalStateException("a scan task covers part of a file: " + task);
        }
        files.add(task.file().location());
      }
    }
    Schema schema = table.schema();
    long count =
        readFiles(
            table,
            files,
            schema,
            (out, r) -> {
              out.writeStartObject();
              for (Types.NestedField field : schema.columns()) {
                Object v = r.getField(field.name());
                out.writeFieldName(field.name());
                if (v == null) out.writeNull();
                else if (v instanceof Double) out.writeNumber((Double) v);
                else if (v instanceof Long) out.writeNumber((Long) v);
                else if (v instanceof Integer) out.writeNumber((Integer) v);
                else if (v instanceof LocalDate) out.writeString(v.toString());
                else if (v instanceof OffsetDateTime) out.writeString(((OffsetDateTime) v).toInstant().toString());
                else out.writeString(v.toString());
              }
              out.writeEndObject();
              out.writeRaw('\n');
            },
            System.out);
    System.out.flush();
    String total = table.currentSnapshot().summary().get("total-records");
    System.err.println(
        "read " + count + " records from " + files.size() + " data files of snapshot "
            + table.currentSnapshot().snapshotId() + " (its summary: total-records " + total + ")");
  }

  static void added(Table table) throws Exception {
    Schema projection = table.schema().select("ingested_at");
    List<Snapshot> lineage = new ArrayList<>();
    SnapshotUtil.ancestorsOf(table.currentSnapshot().snapshotId(), table::snapshot).forEach(lineage::add);
    for (Snapshot snapshot : lineage) {
      List<String> files = new ArrayList<>();
      for (DataFile file : snapshot.addedDataFiles(table.io())) files.add(file.location());
      ByteArrayOutputStream ingested = new ByteArrayOutputStream();
      readFiles(
          table,
          files,
          projection,
          (out, r) -> {
            OffsetDateTime at = (OffsetDateTime) r.getField("ingested_at");
            out.writeNumber(at == null ? -1 : at.toInstant().toEpochMilli());
            out.writeRaw(',');
          },
          ingested);
      StringBuilder line = new StringBuilder();
      line.append("{\"snapshot\":").append(snapshot.snapshotId());
      line.append(",\"timestamp_ms\":").append(snapshot.timestampMillis());
      line.append(",\"ingested_ms\":[");
      line.append(ingested.toString(StandardCharsets.UTF_8).replaceAll(",$", ""));
      line.append("]}\n");
      System.out.write(line.toString().getBytes(StandardCharsets.UTF_8));
    }
    System.out.flush();
  }
}
