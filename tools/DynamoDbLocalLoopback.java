import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

import com.almworks.sqlite4java.SQLiteConnection;
import com.almworks.sqlite4java.SQLiteException;
import com.almworks.sqlite4java.SQLiteJob;
import com.almworks.sqlite4java.SQLiteQueue;

import org.eclipse.jetty.server.AbstractNetworkConnector;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;

import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local bound to 127.0.0.1 only.
 *
 * DynamoDB Local has no bind-address option: its Jetty server is built with {@code new Server(port)},
 * which listens on every interface. This launcher builds the server the way DynamoDB Local's own main
 * does, reaches the private Jetty {@code server} field by reflection, sets the host of each network
 * connector to the loopback address before {@code start()}, then joins.
 *
 * Run in single-file source mode (Java 11+), with the DynamoDB Local jar and its lib folder on the
 * class path, and the same arguments DynamoDB Local takes:
 *
 * <pre>
 * java -cp "DynamoDBLocal.jar:DynamoDBLocal_lib/*" -Djava.library.path=DynamoDBLocal_lib \
 *   tools/DynamoDbLocalLoopback.java -inMemory -port 8000 -disableTelemetry
 * </pre>
 *
 * Telemetry is never configured here, so nothing is sent anywhere whatever the arguments say.
 *
 * It also indexes DynamoDB Local's stream-record table ({@code us}) by stream and by shard. Every
 * write to a stream-enabled table describes that table's stream, which asks SQLite for the stream's
 * first record ({@code SELECT MIN(SequenceNumber) FROM us WHERE StreamID=?}); with only the sequence
 * number indexed, SQLite walks every record of every stream written before that stream began. So a
 * stream turned on late (a release's tables, at promote) made each write slower by all the records
 * that came before it: measured, with 30,000 older records a put took 13.9 ms instead of 1.4 ms and a
 * 3-item transaction 46 ms instead of 3.5 ms, and all calls wait while it runs (one database lock).
 * The index makes that lookup a seek. It changes no result, only the plan. {@code
 * -Dstackshift.streamRecordIndexes=false} leaves them out (to measure them: npm run bench:late-stream).
 */
public final class DynamoDbLocalLoopback {
    private static final String HOST = "127.0.0.1";

    private DynamoDbLocalLoopback() {
    }

    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Server jetty = jettyOf(proxy);

        int bound = 0;
        for (Connector connector : jetty.getConnectors()) {
            if (!(connector instanceof AbstractNetworkConnector)) {
                fail("unexpected connector type " + connector.getClass().getName() + ": cannot restrict it to " + HOST);
            }
            ((AbstractNetworkConnector) connector).setHost(HOST);
            bound++;
        }
        if (bound == 0) {
            fail("DynamoDB Local's Jetty server has no network connector to restrict to " + HOST);
        }

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                proxy.stop();
            } catch (Exception e) {
                System.err.println("DynamoDbLocalLoopback: stop failed: " + e);
            }
        }, "dynamodb-local-stop"));

        // DynamoDBProxyServer.start() prints and swallows a failed bind, so check the outcome here.
        proxy.start();
        if (!jetty.isStarted()) {
            fail("DynamoDB Local did not start (see the lines above)");
        }
        int port = 0;
        for (Connector connector : jetty.getConnectors()) {
            AbstractNetworkConnector network = (AbstractNetworkConnector) connector;
            port = network.getLocalPort();
        }
        if (!"false".equals(System.getProperty("stackshift.streamRecordIndexes"))) {
            indexStreamRecords(proxy, port);
        }
        // Printed last: whoever waits for this line gets a server with its stream records indexed.
        for (Connector connector : jetty.getConnectors()) {
            AbstractNetworkConnector network = (AbstractNetworkConnector) connector;
            System.err.println("DynamoDbLocalLoopback: listening on " + network.getHost() + ":" + network.getLocalPort());
        }
        proxy.join();
    }

    private static Server jettyOf(DynamoDBProxyServer proxy) throws ReflectiveOperationException {
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Object value = field.get(proxy);
        if (!(value instanceof Server)) {
            fail("DynamoDBProxyServer.server is not a Jetty Server (found " + value + "): this DynamoDB Local version is not supported");
        }
        return (Server) value;
    }

    private static final String[] STREAM_RECORD_INDEXES = {
        "CREATE INDEX IF NOT EXISTS us_stream_seq ON us(StreamID, SequenceNumber)",
        "CREATE INDEX IF NOT EXISTS us_shard_seq ON us(ShardID, SequenceNumber)",
    };

    /**
     * Adds the stream-record indexes through DynamoDB Local's own SQLite queue (an in-memory database
     * is visible to its one connection only). The database and its tables are made on the first
     * request, so one ListTables goes first.
     */
    private static void indexStreamRecords(DynamoDBProxyServer proxy, int port) throws Exception {
        listTables(port);
        Collection<SQLiteQueue> queues = find(proxy, SQLiteQueue.class);
        if (queues.isEmpty()) {
            fail("found no SQLite queue inside DynamoDB Local: this DynamoDB Local version is not supported");
        }
        for (SQLiteQueue queue : queues) {
            queue.execute(new SQLiteJob<Void>() {
                @Override
                protected Void job(SQLiteConnection connection) throws SQLiteException {
                    for (String sql : STREAM_RECORD_INDEXES) {
                        connection.exec(sql);
                    }
                    return null;
                }
            }).complete();
        }
        System.err.println("DynamoDbLocalLoopback: stream records indexed by stream and by shard (" + queues.size() + " database)");
    }

    private static void listTables(int port) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/"))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header("X-Amz-Target", "DynamoDB_20120810.ListTables")
            .header("Authorization", "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
            .POST(HttpRequest.BodyPublishers.ofString("{}"))
            .build();
        HttpResponse<String> response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            fail("ListTables answered " + response.statusCode() + ": " + response.body());
        }
    }

    /** Every object of type {@code type} reachable from {@code root} through fields, collections and maps. */
    private static <T> Collection<T> find(Object root, Class<T> type) {
        Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Set<T> found = Collections.newSetFromMap(new IdentityHashMap<>());
        Deque<Object> todo = new ArrayDeque<>();
        push(todo, root);
        while (!todo.isEmpty() && seen.size() < 100_000) {
            Object o = todo.poll();
            if (!seen.add(o)) {
                continue;
            }
            if (type.isInstance(o)) {
                found.add(type.cast(o));
                continue;
            }
            if (o instanceof Map<?, ?> map) {
                map.values().forEach(v -> push(todo, v));
                continue;
            }
            if (o instanceof Collection<?> collection) {
                collection.forEach(v -> push(todo, v));
                continue;
            }
            Class<?> c = o.getClass();
            if (c.isArray() || c.isPrimitive() || c.getName().startsWith("java.") || c.getName().startsWith("jdk.") || c.getName().startsWith("sun.")) {
                continue;
            }
            for (; c != null && c != Object.class; c = c.getSuperclass()) {
                for (Field f : c.getDeclaredFields()) {
                    if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
                        continue;
                    }
                    try {
                        f.setAccessible(true);
                        push(todo, f.get(o));
                    } catch (RuntimeException | IllegalAccessException e) {
                        // a field of a module that does not open itself: not where the queue is
                    }
                }
            }
        }
        return found;
    }

    private static void push(Deque<Object> todo, Object o) {
        if (o != null) {
            todo.add(o);
        }
    }

    private static void fail(String message) {
        System.err.println("DynamoDbLocalLoopback: " + message);
        System.exit(1);
    }
}
